// Logarithm and sine/cosine of a full turn written with +, -, *, / only, so that normal variates
// are the same bits on every machine (IEEE 754 basic operations are correctly rounded
// everywhere; the platform's libm `log`, `sin`, `cos` are not required to be, and glibc and
// Apple's libm differ in the last bit for some arguments). Swift does not contract `a * b + c`
// into a fused multiply-add unless asked, so these evaluate identically on x86-64 and arm64.
//
// Accuracy: within a few ulps of the correctly rounded values (checked against libm in
// RandomStreamsTests); that is far below anything a normal variate is used for.

@usableFromInline
enum PortableMath {
    // ln 2 split so that `e * ln2Hi` is exact for |e| < 2^11 (fdlibm's e_log.c constants).
    // Computed, not stored (as Philox's constants: no lazy-initialization accessor call).
    @inlinable static var ln2Hi: Double { 6.93147180369123816490e-01 }
    @inlinable static var ln2Lo: Double { 1.90821492927058770002e-10 }

    /// Natural logarithm of a positive, finite, normal `x`.
    ///
    /// `x = 2^e m` with `m` in `[√½, √2)`; `log m = 2 atanh(s)`, `s = (m − 1)/(m + 1)`,
    /// `|s| ≤ 0.1716`, by its odd series to `s^23` (truncation below 1e-18 relative).
    @inlinable @inline(__always)
    static func log(_ x: Double) -> Double {
        // Exponent and significand from the bits (what `x.exponent` and `x.significand` give for
        // a positive normal `x`, exactly; those are out-of-line calls into the standard library,
        // about 60 instructions per normal pair on the sde-bench EM solve).
        let bits = x.bitPattern
        var e = Int((bits >> 52) & 0x7ff) - 1023
        var m = Double(bitPattern: bits & 0x000f_ffff_ffff_ffff | 0x3ff0_0000_0000_0000)  // in [1, 2)
        if m > 1.4142135623730951 {
            m *= 0.5
            e += 1
        }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        // Horner in s² of 1 + s²/3 + s⁴/5 + ... + s²²/23.
        var series = 1.0 / 23.0
        series = series * s2 + 1.0 / 21.0
        series = series * s2 + 1.0 / 19.0
        series = series * s2 + 1.0 / 17.0
        series = series * s2 + 1.0 / 15.0
        series = series * s2 + 1.0 / 13.0
        series = series * s2 + 1.0 / 11.0
        series = series * s2 + 1.0 / 9.0
        series = series * s2 + 1.0 / 7.0
        series = series * s2 + 1.0 / 5.0
        series = series * s2 + 1.0 / 3.0
        let logM = 2 * s + 2 * s * s2 * series
        let de = Double(e)
        return de * ln2Hi + (logM + de * ln2Lo)
    }

    /// `k = round(4u)` (ties to even) and `k mod 4`, for `u` in `[0, 1)`.
    ///
    /// `k` is `4u + 2⁵² − 2⁵²`: for `0 ≤ 4u < 2⁵²` the sum's unit in the last place is 1, so
    /// IEEE round-to-nearest-even makes it `2⁵² + round(4u)` and the subtraction is exact: the
    /// same `k` as `rounded(.toNearestOrEven)`, which without SSE4.1 (x86-64's baseline) is a
    /// call to `rint`; the sum's low significand bits are `k mod 4`.
    @inlinable @inline(__always)
    static func quarterTurns(_ u: Double) -> (k: Double, quadrant: Int) {
        let shifted = 4 * u + 0x1p52
        return (shifted - 0x1p52, Int(truncatingIfNeeded: shifted.bitPattern & 3))
    }

    /// `(sin 2πu, cos 2πu)` for `u` in `[0, 1)`.
    ///
    /// The turn is reduced exactly: `r = u − k/4` with `k = round(4u)` is exact (Sterbenz), so the
    /// only rounding before the series is `θ = 2π r`, `|θ| ≤ π/4`; Taylor series to `θ¹⁹` and
    /// `θ²⁰` (truncation below 1e-19). The quarter turns `k` rotate the result exactly.
    @inlinable @inline(__always)
    static func sinCosTurn(_ u: Double) -> (sin: Double, cos: Double) {
        let (k, quadrant) = quarterTurns(u)
        let r = u - 0.25 * k
        let theta = r * 6.283185307179586
        let t2 = theta * theta
        // sin θ = θ (1 − θ²/3! + θ⁴/5! − ...), cos θ = 1 − θ²/2! + θ⁴/4! − ...
        var sinSeries = -1.0 / 121_645_100_408_832_000.0  // −1/19!
        sinSeries = sinSeries * t2 + 1.0 / 355_687_428_096_000.0  // 1/17!
        sinSeries = sinSeries * t2 - 1.0 / 1_307_674_368_000.0  // 1/15!
        sinSeries = sinSeries * t2 + 1.0 / 6_227_020_800.0  // 1/13!
        sinSeries = sinSeries * t2 - 1.0 / 39_916_800.0  // 1/11!
        sinSeries = sinSeries * t2 + 1.0 / 362_880.0  // 1/9!
        sinSeries = sinSeries * t2 - 1.0 / 5040.0
        sinSeries = sinSeries * t2 + 1.0 / 120.0
        sinSeries = sinSeries * t2 - 1.0 / 6.0
        let s = theta + theta * t2 * sinSeries
        var cosSeries = 1.0 / 2_432_902_008_176_640_000.0  // 1/20!
        cosSeries = cosSeries * t2 - 1.0 / 6_402_373_705_728_000.0  // 1/18!
        cosSeries = cosSeries * t2 + 1.0 / 20_922_789_888_000.0  // 1/16!
        cosSeries = cosSeries * t2 - 1.0 / 87_178_291_200.0  // 1/14!
        cosSeries = cosSeries * t2 + 1.0 / 479_001_600.0  // 1/12!
        cosSeries = cosSeries * t2 - 1.0 / 3_628_800.0  // 1/10!
        cosSeries = cosSeries * t2 + 1.0 / 40320.0
        cosSeries = cosSeries * t2 - 1.0 / 720.0
        cosSeries = cosSeries * t2 + 1.0 / 24.0
        cosSeries = cosSeries * t2 - 0.5
        let c = 1 + t2 * cosSeries
        switch quadrant {
        case 0: return (s, c)
        case 1: return (c, -s)
        case 2: return (-s, -c)
        default: return (-c, s)
        }
    }
}
