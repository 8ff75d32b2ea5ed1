import DiffEqCore
import ExplicitRK
import Foundation
import StiffSolvers
import Testing

@testable import DelayDE

/// u'(t) = −u(t − τ), φ = 1, with the small lag τ = 1/100 on [0, 10]: the exact solution is
/// u(t) = Σ_{n ≥ 0, t − (n−1)τ ≥ 0} (−1)^n (t − (n − 1)τ)^n / n! (the unit-lag series of
/// `exactUnitLag` with the lag scaled). Values at t = 1…10 summed in exact rationals (Python
/// `fractions`, up to 1,001 terms) and rounded once; in Double the series loses ~1e-7 relative
/// at t = 10 to cancellation (terms up to 2.5e3 against 4e-5), so the test does not sum it.
let smallLagValues: [(Double, Double)] = [
    (1, 0.3641820666779136), (2, 0.1326217651804082), (3, 0.04829598766356284), (4, 0.017587629158954877),
    (5, 0.006404770135103614), (6, 0.0023323826146646356), (7, 0.0008493682905767291),
    (8, 0.00030930881087062385), (9, 0.00011263893595231485), (10, 4.101897342257271e-05),
]

func smallLagProblem() -> DDEProblem<ClosureDDE<Double>> {
    DDEProblem(
        f: { du, u, h, p, t in du[0] = -h(p, t - 0.01, idxs: 0) },
        u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10), constantLags: [0.01])
}

/// Largest error at t = 1…10 in tolerances (`reltol·|u| + abstol`).
func smallLagError(_ sol: ODESolution<Double>, reltol: Double, abstol: Double) throws -> Double {
    var worst = 0.0
    for (t, exact) in smallLagValues {
        worst = max(worst, abs(try sol(t)[0] - exact) / (reltol * abs(exact) + abstol))
    }
    return worst
}

@Suite struct FixedPointIterationTests {
    /// Steps much longer than the lag, by fixed-point iteration, against the exact solution and
    /// against the steps capped at the lag (`constrained: true`). Measured (reltol 1e-8, abstol
    /// 1e-12; accepted steps, f evaluations, largest error at t = 1…10 in tolerances):
    /// Tsit5 76 steps, 1,256 f, 0.56; Vern7 32, 1,143 f, 0.067; Rodas5P 119, 1,996 f, 0.30;
    /// capped at the lag each takes 1,000 steps.
    @Test(arguments: [0, 1, 2])
    func smallLagTakesLongSteps(index: Int) throws {
        let methods: [any MethodOfStepsAlgorithm] = [Tsit5(), Vern7(), Rodas5P()]
        let (reltol, abstol) = (1e-8, 1e-12)
        func run(_ m: some MethodOfStepsAlgorithm, constrained: Bool) throws -> ODESolution<Double> {
            try solve(
                smallLagProblem(), MethodOfSteps(m, constrained: constrained), reltol: reltol, abstol: .scalar(abstol))
        }
        let method = methods[index]
        let free = try run(method, constrained: false)
        let capped = try run(method, constrained: true)
        #expect(free.retcode == .success && capped.retcode == .success)
        let errFree = try smallLagError(free, reltol: reltol, abstol: abstol)
        let errCapped = try smallLagError(capped, reltol: reltol, abstol: abstol)
        #expect(errFree < 10, "\(method.name): \(errFree) tolerances, \(free.stats.naccept) steps")
        #expect(errCapped < 10, "\(method.name) constrained: \(errCapped) tolerances")
        #expect(capped.stats.naccept >= 1000)
        #expect(
            free.stats.naccept * 8 < capped.stats.naccept,
            "\(method.name): \(free.stats.naccept) steps unconstrained, \(capped.stats.naccept) constrained")
    }

    /// The history read during a long step is the step's own interpolant, not an extrapolation:
    /// with one iterate allowed (`maxFixedPointIterations: 1`, which can never meet the
    /// stopping rule unless the change is zero) every long step is rejected and the solve ends
    /// with a message once `dtmin` forbids steps within the lag.
    @Test func nonConvergenceEndsWithAMessage() throws {
        let sol = try solve(
            smallLagProblem(), MethodOfSteps(Tsit5(), maxFixedPointIterations: 1), reltol: 1e-8, abstol: 1e-12,
            dtmin: 0.05)
        #expect(sol.retcode == .convergenceFailure)
        let message = sol.message ?? ""
        #expect(message.contains("fixed-point iteration"), "\(message)")
        #expect(sol.t.last! < 10)
    }

    /// A stiff DDE on steps far longer than the lag: u₁' = −1000·(u₁ − u₂(t − τ)),
    /// u₂' = −u₂(t − τ), τ = 0.01, φ = (1, 1): u₂ is the small-lag solution above and u₁ follows
    /// its delayed value within the fast time 1/1000, which Rodas5P treats implicitly while the
    /// fixed-point iteration settles the delayed values inside each step; u₂ stays in the band.
    @Test func stiffDelayedTermConverges() throws {
        let prob = DDEProblem(
            f: { du, u, h, p, t in
                let v = h(p, t - 0.01, idxs: 1)
                du[0] = -1000 * (u[0] - v)
                du[1] = -v
            },
            u0: [1.0, 1.0], history: { _, _ in [1.0, 1.0] }, tspan: (0, 10), constantLags: [0.01])
        let (reltol, abstol) = (1e-8, 1e-12)
        let free = try solve(prob, MethodOfSteps(Rodas5P()), reltol: reltol, abstol: .scalar(abstol))
        let capped = try solve(prob, MethodOfSteps(Rodas5P(), constrained: true), reltol: reltol, abstol: .scalar(abstol))
        #expect(free.retcode == .success)
        var worst = 0.0
        for (t, exact) in smallLagValues {
            worst = max(worst, abs(try free(t)[1] - exact) / (reltol * abs(exact) + abstol))
        }
        #expect(worst < 10, "u₂: \(worst) tolerances, \(free.stats.naccept) steps")
        // Measured: 237 steps against 1,021 capped at the lag.
        #expect(free.stats.naccept * 3 < capped.stats.naccept, "\(free.stats.naccept) vs \(capped.stats.naccept)")
    }

    /// The stage coupling vanishes at the fixed point: with and without it the iteration
    /// converges to the same solution, within the fixed-point tolerance (measured at t = 1…10,
    /// reltol 1e-8: Tsit5 0.06 tolerances apart, Vern7 0.25).
    @Test(arguments: [0, 1])
    func couplingDoesNotMoveTheFixedPoint(index: Int) throws {
        func run(coupled: Bool) throws -> ODESolution<Double> {
            if index == 0 {
                var alg = MethodOfSteps(Tsit5())
                alg.stageCoupling = coupled
                return try solve(smallLagProblem(), alg, reltol: 1e-8, abstol: 1e-12)
            }
            var alg = MethodOfSteps(Vern7())
            alg.stageCoupling = coupled
            return try solve(smallLagProblem(), alg, reltol: 1e-8, abstol: 1e-12)
        }
        let (a, b) = (try run(coupled: true), try run(coupled: false))
        var worst = 0.0
        for (t, exact) in smallLagValues {
            worst = max(worst, abs(try a(t)[0] - b(t)[0]) / (1e-8 * abs(exact) + 1e-12))
        }
        #expect(worst < 1, "coupled and plain differ by \(worst) tolerances")
    }

    @Test func badFixedPointOptionsThrow() {
        #expect(throws: DDEError.self) {
            try solve(smallLagProblem(), MethodOfSteps(Tsit5(), fixedPointTolerance: 0))
        }
        #expect(throws: DDEError.self) {
            try solve(smallLagProblem(), MethodOfSteps(Tsit5(), maxFixedPointIterations: 0))
        }
    }
}


/// A stiff delayed term on steps far longer than the lag: u' = −1000·(u(t − τ) − cos t),
/// τ = 1e-4, φ = 0 (1000·τ = 0.1: stable), on [0, 2]. After the first milliseconds u follows
/// cos t: the delayed term is the stiff one and ∂f/∂u(t) = 0. Reference: MethodOfSteps(Vern9(),
/// constrained: true) at 1e-12 (every step within the lag, no iteration, 20,000+ steps).
/// Measured (reltol 1e-6, abstol 1e-9; steps, rejected, f, error in tolerances):
/// KenCarp4 1,313, 483, 45,634, 0.009 (without the stage coupling 1,403, 463, 56,209, 0.031);
/// Rodas5P 1,500, 3, 25,571, 0.092 (without 915, 134, 33,014, 0.004). The mean step, ~1.5e-3,
/// is 15 lags but stays where h·1000 ≈ 1: the fixed-point iteration still limits a stiff delayed
/// term, and the coupling does not lift that limit (RADAR5's Newton iteration on the collocation
/// polynomial would; not done).
@Suite struct StiffDelayedTermTests {
    static func problem() -> DDEProblem<ClosureDDE<Double>> {
        DDEProblem(
            f: { du, u, h, p, t in du[0] = -1000 * (h(p, t - 1e-4, idxs: 0) - Foundation.cos(t)) },
            u0: [0.0], history: { _, _ in [0.0] }, tspan: (0, 2), constantLags: [1e-4])
    }

    @Test func stepsLongerThanTheLag() throws {
        let reference = try solve(
            Self.problem(), MethodOfSteps(Vern9(), constrained: true), reltol: 1e-12, abstol: 1e-12, maxiters: 1_000_000)
        #expect(reference.retcode == .success)
        let times = [0.5, 1.0, 1.5, 2.0]
        let exact = try times.map { try reference($0)[0] }
        func check<A: MethodOfStepsAlgorithm>(_ m: A) throws {
            let sol = try solve(Self.problem(), MethodOfSteps(m), reltol: 1e-6, abstol: 1e-9, maxiters: 1_000_000)
            let err = try zip(times, exact).map { abs(try sol($0)[0] - $1) / (1e-6 * abs($1) + 1e-9) }.max()!
            #expect(sol.retcode == .success && err < 10, "\(m.name): \(err) tolerances")
            #expect(sol.stats.naccept * 10 < reference.stats.naccept, "\(m.name): \(sol.stats.naccept) steps vs \(reference.stats.naccept)")
        }
        try check(KenCarp4())
        try check(Rodas5P())
    }
}
