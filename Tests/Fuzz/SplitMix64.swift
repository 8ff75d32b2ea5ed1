// The fuzzer's random numbers: a counter-based stream, so that case `k` of seed `s` is the same
// case on every machine, in every run, whatever cases ran before it or beside it.
//
// SplitMix64 (G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; the 64-bit constants are those of Vigna's reference implementation,
// https://prng.di.unimi.it/splitmix64.c): the state advances by the golden-ratio increment
// 0x9E3779B97F4A7C15 and each output is the state passed through a bijective mixing function.
//
// Case `(seed, index)` starts from state `mix(seed ^ mix(index))`, where `mix` is that mixing
// function applied to `x + 0x9E3779B97F4A7C15`. Only integer arithmetic and exact conversions
// are used (a uniform double is the top 53 bits times 2^-53), so nothing depends on libm.

struct SplitMix64 {
    private(set) var state: UInt64

    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ increment
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The stream of case `index` of run `seed`.
    init(seed: UInt64, index: UInt64) {
        state = Self.mix(seed ^ Self.mix(index))
    }

    mutating func next() -> UInt64 {
        state = state &+ Self.increment
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform on [0, 1), exactly representable.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform on [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }

    /// Uniform integer in `range` (modulo bias is irrelevant here).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % width)
    }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { Int(next() % 100) < percent }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(next() % UInt64(choices.count))] }

    /// One of `choices`, each with its weight.
    mutating func weighted<T>(_ choices: [(Int, T)]) -> T {
        let total = choices.reduce(0) { $0 + $1.0 }
        var r = Int(next() % UInt64(total))
        for (w, c) in choices {
            if r < w { return c }
            r -= w
        }
        return choices[choices.count - 1].1
    }
}
