// The layers of the 256-layer ziggurat for N(0, 1) (Marsaglia & Tsang, "The Ziggurat Method for
// Generating Random Variables", J. Stat. Softw. 5(8), 2000, §2-§3): with the unnormalised density
// f(x) = exp(−x²/2), every layer has area v, the base layer's rectangle ends at r and carries the
// tail beyond it. The paper's recurrence x₁ = r, f(x_{i+1}) = v/x_i + f(x_i),
// x_{i+1} = √(−2 ln f(x_{i+1})) is evaluated with IEEE basic operations and PortableMath only,
// so the tables (and every normal drawn from them) are the same bits on every machine.

/// One layer of the ziggurat: a candidate `m · scale` (`m` below 2⁵³) is accepted at once when
/// `m < bound`, the rectangle fully under the density.
@frozen @usableFromInline
struct ZigguratLayer {
    /// `⌊x_{i+1} / x_i · 2⁵³⌋`: the rectangle's share of the layer's width, in 2⁻⁵³.
    @usableFromInline var bound: UInt64
    /// `x_i · 2⁻⁵³`: the layer's right edge per unit of the 53-bit magnitude.
    @usableFromInline var scale: Double
    /// `x_i`, the layer's right edge (`x₀ = v / f(r)`, the base strip's equivalent width;
    /// `x₂₅₆ = 0`).
    @usableFromInline var edge: Double
    /// `f(x_i)` (`f(x₀)` unused; `f(x₂₅₆) = 1`).
    @usableFromInline var density: Double

    /// The paper's r and v for 256 layers (Marsaglia & Tsang 2000, §3 and its code's constants).
    @inlinable static var r: Double { 3.6541528853610088 }
    @inlinable static var v: Double { 0.00492867323399 }

    /// Layers `0...256`, allocated once and never freed (read by every draw of every thread;
    /// immutable after construction).
    static func table() -> UnsafePointer<ZigguratLayer> {
        let r = ZigguratLayer.r, v = ZigguratLayer.v
        var edge = [Double](repeating: 0, count: 257)
        var density = [Double](repeating: 0, count: 257)
        let fr = expNegativeHalfSquare(r)
        edge[0] = v / fr
        edge[1] = r
        density[1] = fr
        for i in 1..<255 {
            density[i + 1] = v / edge[i] + density[i]
            edge[i + 1] = (-2 * PortableMath.log(density[i + 1])).squareRoot()
        }
        edge[256] = 0
        density[256] = 1
        let layers = UnsafeMutablePointer<ZigguratLayer>.allocate(capacity: 257)
        for i in 0...256 {
            let next = i < 256 ? edge[i + 1] : 0
            layers[i] = ZigguratLayer(
                bound: edge[i] > 0 ? UInt64(next / edge[i] * 0x1p53) : 0,
                scale: edge[i] * 0x1p-53, edge: edge[i], density: density[i])
        }
        return UnsafePointer(layers)
    }

    /// `exp(−x²/2)` for the one density value the recurrence starts from: `y = −x²/2` split as
    /// `k ln 2 + s` (`k = round(y / ln 2)`, `|s| ≤ ln 2 / 2`, ln 2 in two parts as in
    /// PortableMath.log), Taylor series of `eˢ` to `s²⁰` (truncation below 1e-19 relative), times
    /// `2ᵏ` exactly. Built once, so `rounded()`'s call does not matter.
    static func expNegativeHalfSquare(_ x: Double) -> Double {
        let y = -0.5 * x * x
        let k = (y / (PortableMath.ln2Hi + PortableMath.ln2Lo)).rounded()
        let s = (y - k * PortableMath.ln2Hi) - k * PortableMath.ln2Lo
        var series = 1.0  // Horner: 1 + s(1 + s/2(1 + s/3(…(1 + s/20))))
        for n in stride(from: 20, through: 1, by: -1) {
            series = 1 + s * series / Double(n)
        }
        return series * Double(sign: .plus, exponent: Int(k), significand: 1)
    }
}

/// The ziggurat's layers, built on first use. `nonisolated(unsafe)`: written once by the
/// global's initializer (thread-safe), read-only after.
@usableFromInline nonisolated(unsafe) let zigguratLayers: UnsafePointer<ZigguratLayer> = ZigguratLayer.table()
