import DiffEq
import ProblemLibrary
import Testing

/// `solve(prob)` without an algorithm (the umbrella's DefaultAlgorithm.swift).
struct DefaultSolveTests {
    @Test func defaultAlgorithmIsAutoSwitching() throws {
        let sol = try solve(TestProblems.rober(tEnd: 1e3), reltol: 1e-6, abstol: 1e-10)
        #expect(sol.algorithm == "AutoTsit5(Rosenbrock23)")
        #expect(sol.retcode == .success)
    }

    /// Issue 13 (smaller): the default `solve(prob, ...)` has the same forms as
    /// `solve(prob, alg, ...)`: `options:`, `adaptive` and `isOutOfDomain`.
    @Test func theDefaultSolveTakesEveryOption() throws {
        let prob = TestProblems.rober(tEnd: 1e3)
        let options = SolveOptions(reltol: 1e-5, abstol: 1e-9, saveat: .every(100))
        let a = try solve(prob, options: options)
        let b = try solve(prob, defaultAlgorithm(), options: options)
        #expect(a.u == b.u && a.t == b.t && a.algorithm == "AutoTsit5(Rosenbrock23)")
        let fixed = try solve(TestProblems.lorenz(tEnd: 1), dt: 1e-3, adaptive: false)
        #expect(fixed.retcode == .success && fixed.stats.naccept == 1000)
        var checks = 0
        let domain = try solve(prob, reltol: 1e-4, abstol: 1e-8, isOutOfDomain: { u, _, _ in u.contains { $0 < -1e-12 } })
        checks += domain.u.allSatisfy { $0.allSatisfy { $0 >= -1e-12 } } ? 1 : 0
        #expect(checks == 1 && domain.retcode == .success)
    }
}
