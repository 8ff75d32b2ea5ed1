import DiffEqCore
import Foundation
import SundialsBridge
import Testing

/// DETEST A3 (Hull, Enright, Fellen & Sedgwick, "Comparing numerical methods for ordinary
/// differential equations", SIAM J. Numer. Anal. 9 (1972) 603-637): `y' = y cos t`, `y(0) = 1`,
/// `t ∈ [0, 20]`, solution `y = exp(sin t)`.
private func detestA3() -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, _, t in du[0] = u[0] * Foundation.cos(t) }, u0: [1.0], tspan: (0, 20))
}

@Suite struct DenseOutputTests {
    /// Largest error in tolerances (`|y − exp(sin t)| / (abstol + reltol |exp(sin t)|)`) at the
    /// step ends and at seven points inside every step, of `interpolate`.
    private func errors(
        _ sol: ODESolution<Double>, reltol: Double, abstol: Double, _ interpolate: (Double) throws -> Double
    ) rethrows -> (atSteps: Double, between: Double) {
        func e(_ y: Double, _ t: Double) -> Double {
            let exact = Foundation.exp(Foundation.sin(t))
            return abs(y - exact) / (abstol + reltol * abs(exact))
        }
        var atSteps = 0.0, between = 0.0
        for (t, u) in zip(sol.t, sol.u) { atSteps = max(atSteps, e(u[0], t)) }
        for (a, b) in zip(sol.t, sol.t.dropFirst()) where b > a {
            for j in 1...7 {
                let t = a + (b - a) * Double(j) / 8
                between = max(between, e(try interpolate(t), t))
            }
        }
        return (atSteps, between)
    }

    @Test(arguments: [1e-6, 1e-10])
    func denseOutputIsAsAccurateBetweenTheStepsAsAtThem(reltol: Double) throws {
        // CVODE's dense output used to be a cubic Hermite through the step ends, hundreds of
        // tolerances off between the steps of A3 at reltol 1e-10 (issue #13): CVODE's steps are
        // long for its order and the Hermite's O(h^4) error is not. CVODE's own polynomial of
        // each step is as accurate between the steps as at them (the global error, 16-200
        // tolerances here, dominates both). The Hermite through the same steps is computed
        // alongside to show what the test tells apart.
        let abstol = reltol
        for (name, algorithm) in [("BDF", AnyAlgorithm(CVODE_BDF())), ("Adams", AnyAlgorithm(CVODE_Adams()))] {
            let sol = try algorithm.solve(detestA3(), options: SolveOptions(reltol: reltol, abstol: .scalar(abstol)))
            #expect(sol.retcode == .success)
            let (atSteps, between) = try errors(sol, reltol: reltol, abstol: abstol) { try sol($0)[0] }
            let hermite = HermiteDenseOutput(
                times: sol.t, states: sol.u, derivatives: zip(sol.t, sol.u).map { [$1[0] * Foundation.cos($0)] })
            var out = [0.0]
            let (_, hermiteBetween) = errors(sol, reltol: reltol, abstol: abstol) { t in
                hermite.evaluate(at: t, into: &out)
                return out[0]
            }
            print(
                "A3 \(name) reltol \(reltol): \(sol.t.count) steps, error at the steps \(atSteps), between them \(between) "
                    + "tolerances (cubic Hermite through the same steps: \(hermiteBetween))")
            #expect(between <= 1.05 * atSteps + 1, "\(name): \(between) between steps vs \(atSteps) at them")
        }
    }

    @Test func denseOutputEqualsSaveatToRounding() throws {
        // Both evaluate the same polynomial of the same step (saveat through CVodeGetDky).
        for algorithm in [AnyAlgorithm(CVODE_BDF()), AnyAlgorithm(CVODE_Adams())] {
            let dense = try algorithm.solve(detestA3(), options: SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8)))
            let times = (0...199).map { 0.1 * Double($0) + 0.037 }
            let saved = try algorithm.solve(
                detestA3(), options: SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .times(times)))
            #expect(saved.t == times)
            for (t, u) in zip(saved.t, saved.u) {
                let v = try dense(t)[0]
                #expect(abs(v - u[0]) <= 1e-13 * abs(u[0]), "t = \(t): dense \(v), saveat \(u[0])")
            }
        }
    }
}

/// A CVODE algorithm behind one type, so both families go through one loop.
private struct AnyAlgorithm {
    let run: (ODEProblem<ClosureRHS<Double>>, SolveOptions) throws -> ODESolution<Double>
    init<A: ODEAlgorithm>(_ a: A) { run = { try a.solve($0, options: $1) } }
    func solve(_ p: ODEProblem<ClosureRHS<Double>>, options: SolveOptions) throws -> ODESolution<Double> { try run(p, options) }
}
