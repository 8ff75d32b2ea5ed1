import DiffEqCore
import ExplicitRK
import Foundation
import StiffSolvers
import Testing

@testable import DelayDE

/// Discontinuity tracking for a neutral equation: u'(t) = 1 + u'(t − 1), φ = 0, u(0) = 0 on
/// [0, 10]. The jump of u' at 0 (from φ' = 0 to 1) recurs at every integer, never smoothing out:
/// u' = k + 1 on (k, k + 1), so u(t) = k(k + 1)/2 + (k + 1)(t − k) there, u(10) = 55. Piecewise
/// linear, it is integrated exactly by any Runge-Kutta method whose steps do not straddle an
/// integer; the non-neutral tracking stops at the method's order (Tsit5: 1…6), so a step can
/// straddle 7, 8 or 9. At each tracked point `f` itself jumps, so the method restarts there (an
/// FSAL stage would carry the left limit into the next step). Measured (Tsit5, reltol 1e-8):
/// `neutral = true` 15 steps, 0 rejected, largest error 9.9e-14; the first levels only 119 steps,
/// 175 rejected, 5.4e-5.
@Suite struct NeutralTrackingTests {
    func problem(neutral: Bool) -> DDEProblem<ClosureDDE<Double>> {
        var prob = DDEProblem(
            f: { du, u, h, p, t in du[0] = 1 + h.derivative(p, t - 1, idxs: 0) },
            u0: [0.0], history: { _, _ in [0.0] }, tspan: (0, 10), constantLags: [1])
        prob.neutral = neutral
        return prob
    }

    func exact(_ t: Double) -> Double {
        let k = min(floor(t), 9)
        return k * (k + 1) / 2 + (k + 1) * (t - k)
    }

    @Test func everyIntegerIsAStop() throws {
        let tracked = try solve(problem(neutral: true), MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-10)
        let plain = try solve(problem(neutral: false), MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-10)
        #expect(tracked.retcode == .success && plain.retcode == .success)
        func worst(_ sol: ODESolution<Double>) throws -> Double {
            try stride(from: 0.5, through: 10, by: 0.5).map { abs(try sol($0)[0] - exact($0)) }.max()!
        }
        let (e1, e2) = (try worst(tracked), try worst(plain))
        print("neutral tracking: error \(e1), \(tracked.stats.naccept) steps, \(tracked.stats.nreject) rejected; first levels only: error \(e2), \(plain.stats.naccept) steps, \(plain.stats.nreject) rejected")
        for k in 1...9 { #expect(tracked.t.contains(Double(k)), "no step ends at \(k)") }
        #expect(e1 < 1e-11, "tracked: \(e1)")
        #expect(plain.stats.nreject > tracked.stats.nreject, "rejections \(plain.stats.nreject) vs \(tracked.stats.nreject)")
    }
}
