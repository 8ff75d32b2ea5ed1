import NeuralNetworks
import Testing

/// Expected values from an independent reimplementation of SplitMix64 in Python (run once):
///
///     M = 2**64 - 1
///     def sm(seed, i):
///         z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & M
///         z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///         z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///         return z ^ (z >> 31)
///     u = lambda s, i: (sm(s, i) >> 11) * 2.0**-53
///     [hex(sm(0, i)) for i in range(3)]; [u(0, i) for i in range(3)]
///     [math.sqrt(6 / 52) * (2 * u(7, i) - 1) for i in range(4)]   # Glorot uniform, fans 2 and 50
///
/// 0xe220a8397b1dcdaf is also the first output of Vigna's splitmix64.c from state 0.
@Suite("Seeded initializers")
struct InitializerTests {
    @Test func splitMixOutputs() {
        let g0 = SplitMix64(seed: 0)
        #expect(
            [g0.value(at: 0), g0.value(at: 1), g0.value(at: 2)] == [
                0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f,
            ])
        let g42 = SplitMix64(seed: 42)
        #expect(
            [g42.value(at: 0), g42.value(at: 1), g42.value(at: 2)] == [
                0xbdd7_3226_2feb_6e95, 0x28ef_e333_b266_f103, 0x4752_6757_130f_9f52,
            ])
        #expect(
            [g0.uniform(at: 0), g0.uniform(at: 1), g0.uniform(at: 2)] == [
                0.8833108082136426, 0.43152799704850997, 0.026433771592597743,
            ])
    }

    @Test func glorotUniformIsReproducible() throws {
        let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
        let p = chain.initialParameters(seed: 7)
        #expect(Array(p[0..<4]) == [-0.074845947445497, -0.3282777100413668, 0.2722632689035989, 0.0563400397383447])
        #expect(p == chain.initialParameters(seed: 7))
        #expect(p != chain.initialParameters(seed: 8))
        // Biases are zero; weights lie within the Glorot limit √(6 / (fanIn + fanOut)).
        #expect(p[100..<150].allSatisfy { $0 == 0 })
        #expect(p[0..<100].allSatisfy { abs($0) < (6.0 / 52).squareRoot() })
        #expect(p[150..<250].allSatisfy { abs($0) < (6.0 / 52).squareRoot() })
        // Float gets the Double draws rounded once.
        let chainF = try Chain<Float>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
        #expect(chainF.initialParameters(seed: 7) == p.map { Float($0) })
    }

    /// Glorot normal: mean 0 and standard deviation √(2 / (fanIn + fanOut)) within sampling
    /// error (n = 40000 draws: the standard error of the mean is σ/200, of the deviation σ/283).
    @Test func glorotNormalMoments() throws {
        let chain = try Chain<Double>(
            .dense(200, 200, weightInitializer: .glorotNormal, biasInitializer: .constant(0.5)))
        let p = chain.initialParameters(seed: 3)
        let w = p[0..<40000]
        let sigma = (2.0 / 400).squareRoot()
        let mean = w.reduce(0, +) / 40000
        let sd = (w.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 40000).squareRoot()
        #expect(abs(mean) < 4 * sigma / 200)
        #expect(abs(sd / sigma - 1) < 4.0 / 283)
        #expect(p[40000...].allSatisfy { $0 == 0.5 })
    }
}
