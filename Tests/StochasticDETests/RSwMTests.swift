// Rejection sampling with memory (Rackauckas & Nie 2017): the test. Steps are rejected
// *because of* the drawn increment (|ΔW| > √h, about a third of proposals), as an error
// controller would; the retry proposes half the step. With RSwM the value W(1) reached after
// all accepts and rejects is still N(0, 1) (Kolmogorov–Smirnov at level 0.001 over 4000 seeded
// paths). The same experiment with a naive process that forgets rejected draws is biased
// (rejected large increments are replaced by fresh, smaller ones), and the same test detects it,
// which shows the test has the power to fail.
import Foundation
import RandomStreams
import StochasticDE
import Testing

@Suite struct RSwMTests {
    static let paths = 4000

    /// Adaptive-like stepping to t = 1: propose h = 0.1 (clipped), reject while |ΔW| > √h,
    /// halving h, accept otherwise.
    static func finalValue<N: NoiseProcess>(_ noise: inout N) throws -> (w: Double, rejections: Int) {
        var dW = [0.0]
        var none: [Double] = []
        var w = 0.0
        var rejections = 0
        while noise.currentTime < 1 {
            let t = noise.currentTime
            var h = min(0.1, 1 - t)
            while true {
                let target = t + h > 1 - 1e-12 ? 1 : t + h
                try noise.increment(to: target, &dW, &none)
                if abs(dW[0]) <= h.squareRoot() || h < 1e-6 { break }
                rejections += 1
                h *= 0.5
            }
            try noise.accept()
            w += dW[0]
        }
        return (w, rejections)
    }

    @Test func finalValueIsStandardNormalDespiteRejections() throws {
        var finals: [Double] = []
        var rejections = 0
        for seed in 0..<Self.paths {
            var process = try WienerProcess(dimension: 1, seed: UInt64(seed), keepsHistory: false)
            let (w, r) = try Self.finalValue(&process)
            finals.append(w)
            rejections += r
        }
        #expect(rejections > Self.paths)  // the rejections really happen (about 5 per path)
        let d = ksStatistic(finals)
        #expect(d < ksCritical(finals.count), "KS D = \(d), critical \(ksCritical(finals.count))")
    }

    /// The control: a process that draws every proposal afresh (no memory).
    struct ForgetfulProcess: NoiseProcess {
        let stream: NormalStream
        var draws: UInt64 = 0
        var now = 0.0
        var proposed = 0.0
        var wienerCount: Int { 1 }
        var hasAuxiliary: Bool { false }
        var currentTime: Double { now }
        mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
            dW[0] = (t1 - now).squareRoot() * stream.normal(index: draws, component: 0)
            draws += 1
            proposed = t1
        }
        mutating func accept() throws(NoiseError) { now = proposed }
    }

    @Test func withoutMemoryTheSameTestDetectsTheBias() throws {
        var finals: [Double] = []
        for seed in 0..<Self.paths {
            var process = ForgetfulProcess(stream: NormalStream(seed: UInt64(seed), domain: 99))
            finals.append(try Self.finalValue(&process).w)
        }
        #expect(ksStatistic(finals) > ksCritical(finals.count), "naive resampling should fail: D = \(ksStatistic(finals))")
    }
}
