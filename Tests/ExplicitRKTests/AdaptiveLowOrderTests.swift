import Glibc
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary

/// Issue 13 (smaller): RK4, Heun and Midpoint could not adapt their steps (`solve(prob, RK4())`
/// threw "give dt"). Heun and Midpoint now carry the embedded Euler step, RK4 the residual
/// estimate of its step's Hermite interpolant (``ResidualErrorEstimate``), as in
/// DifferentialEquations.jl. Checked against the closed-form solution `exp(sin t)` of
/// `u' = cos(t) u` on `[0, 10]`: the error follows the tolerance, and the error against the
/// number of steps shows the method's order.
@Suite struct AdaptiveLowOrderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let tableau: ButcherTableau
        let order: Int
        /// Tolerances over which the observed slopes are measured (a factor 10 apart).
        let tolerances: [Double]
        var testDescription: String { tableau.name }
    }

    static let cases = [
        Case(tableau: RK4().tableau, order: 4, tolerances: [1e-5, 1e-6, 1e-7, 1e-8, 1e-9]),
        Case(tableau: Heun().tableau, order: 2, tolerances: [1e-3, 1e-4, 1e-5, 1e-6]),
        Case(tableau: Midpoint().tableau, order: 2, tolerances: [1e-3, 1e-4, 1e-5, 1e-6]),
    ]

    /// The largest error over every step (in tolerances and absolute) and the accepted steps at
    /// `reltol = abstol = tol`. (The end point alone is a poor measure here: its error changes
    /// sign between tolerances, and the slopes from it scattered from -4.7 to 10.6 for RK4.)
    static func run(_ c: Case, tol: Double) throws -> (scaled: Double, error: Double, steps: Int, sol: ODESolution<Double>) {
        let prob = ScalarLinear.problem(tEnd: 10)
        let sol = try solve(prob, TableauAlgorithm(tableau: c.tableau), reltol: tol, abstol: .scalar(tol))
        #expect(sol.retcode == .success)
        var scaled = 0.0, error = 0.0
        for (t, u) in zip(sol.t, sol.u) {
            let exact = ScalarLinear.exact(t)[0]
            error = max(error, abs(u[0] - exact))
            scaled = max(scaled, abs(u[0] - exact) / (tol + tol * abs(exact)))
        }
        return (scaled, error, sol.stats.naccept, sol)
    }

    @Test(arguments: cases) func adaptiveSolvesMeetTheirTolerance(_ c: Case) throws {
        for tol in c.tolerances {
            let r = try Self.run(c, tol: tol)
            #expect(r.scaled <= 10, "\(c.tableau.name) at \(tol): \(r.scaled) tolerances")
            #expect(r.sol.stats.nreject < r.steps, "\(c.tableau.name) at \(tol): \(r.sol.stats)")
        }
    }

    /// Tolerance proportionality (error ∝ tol: the exponent `α = 1` that ``GlobalErrorControl``
    /// assumes) and the observed order `−log(e_k/e_{k+1}) / log(N_k/N_{k+1})` from the error
    /// against the number of steps, each within 0.3 on average (an adaptive run's step sequence
    /// is not a clean refinement, so the DiffEqDevTools margin of 0.2 for fixed steps is widened).
    /// Measured: α = 1.05 (RK4), 0.89 (Heun), 0.96 (Midpoint); order 4.29, 1.80, 1.92.
    @Test(arguments: cases) func errorsFollowTheToleranceAndTheOrder(_ c: Case) throws {
        let runs = try c.tolerances.map { try Self.run(c, tol: $0) }
        var tolSlopes: [Double] = []
        var orderSlopes: [Double] = []
        for k in 0..<(runs.count - 1) {
            tolSlopes.append(log(runs[k].error / runs[k + 1].error) / log(c.tolerances[k] / c.tolerances[k + 1]))
            orderSlopes.append(log(runs[k].error / runs[k + 1].error) / log(Double(runs[k + 1].steps) / Double(runs[k].steps)))
        }
        let alpha = tolSlopes.reduce(0, +) / Double(tolSlopes.count)
        let order = orderSlopes.reduce(0, +) / Double(orderSlopes.count)
        #expect(abs(alpha - 1) <= 0.3, "\(c.tableau.name): tolerance slopes \(tolSlopes)")
        #expect(abs(order - Double(c.order)) <= 0.3, "\(c.tableau.name): order slopes \(orderSlopes)")
    }

    /// RK4's residual estimate costs `f(u_{n+1})` (reused as the next first stage) and two
    /// evaluations at the Gauss points: 6 per accepted step after the first; fixed steps still 4.
    @Test func rk4CountsItsEvaluations() throws {
        let prob = ScalarLinear.problem(tEnd: 10)
        let adaptive = try solve(prob, RK4(), reltol: 1e-6, abstol: 1e-6)
        let attempts = adaptive.stats.naccept + adaptive.stats.nreject
        // f(t0, u0) and the initial step size (2), then 3 stages + 3 for the estimate per attempt.
        #expect(adaptive.stats.nf == 2 + 6 * attempts)
        let fixed = try solve(prob, RK4(), dt: 0.01, adaptive: false)
        // f(t0, u0) serves the first step: 4 per step in all.
        #expect(fixed.stats.nf == 4 * 1000, "\(fixed.stats)")
    }

    /// A NaN in the residual evaluations rejects the step (the estimate must not hide it).
    @Test func aNonFiniteResidualRejectsTheStep() throws {
        let prob = ODEProblem(f: { du, u, p, t in du[0] = t > 0.5 ? .nan : -u[0] }, u0: [1.0], tspan: (0, 1))
        let sol = try solve(prob, RK4(), reltol: 1e-6, abstol: 1e-6)
        #expect(sol.retcode == .unstable)
        #expect(sol.t.last! <= 0.5)
    }

    /// `dt` with the default `adaptive: true` is the first step of an adaptive solve, as in
    /// DifferentialEquations.jl; `adaptive: false` keeps the old fixed steps.
    @Test func dtIsTheFirstStepUnlessAdaptiveIsOff() throws {
        let prob = ScalarLinear.problem(tEnd: 10)
        let adaptive = try solve(prob, Heun(), reltol: 1e-4, abstol: 1e-4, dt: 1e-3)
        let fixed = try solve(prob, Heun(), dt: 1e-3, adaptive: false)
        #expect(fixed.stats.naccept == 10_000)
        #expect(adaptive.stats.naccept < 2000, "\(adaptive.stats)")
    }
}

extension AdaptiveLowOrderTests {
    /// With an error estimate, the three methods can now be wrapped in ``GlobalErrorControl``
    /// (it refused them: "does not control its error through the tolerances"); Euler still is
    /// refused.
    @Test func globalErrorControlWrapsTheAdaptiveForms() throws {
        let prob = ScalarLinear.problem(tEnd: 10)
        for tableau in [RK4().tableau, Heun().tableau, Midpoint().tableau] {
            let sol = try solve(prob, GlobalErrorControl(TableauAlgorithm(tableau: tableau)), reltol: 1e-5, abstol: 1e-5, saveat: .every(1))
            #expect(sol.retcode == .success, "\(tableau.name): \(sol.message ?? "")")
            let exact = ScalarLinear.exact(10)[0]
            #expect(abs(sol.u.last![0] - exact) <= 10 * (1e-5 + 1e-5 * exact), "\(tableau.name)")
        }
        #expect(throws: DiffEqError.self) { try solve(prob, GlobalErrorControl(Euler()), dt: 0.01) }
    }
}
