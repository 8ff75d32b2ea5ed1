// The README's quick start, compiled and run as written (only `print` is captured so that the
// test output stays quiet, and the results are checked).
import Testing
import DiffEq
import Foundation
import ProblemLibrary
import SundialsBridge

private struct LotkaVolterraQS: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

@Test func readmeQuickStartRuns() throws {
    var printed: [String] = []
    func print(_ items: Any...) { printed.append(items.map { "\($0)" }.joined(separator: " ")) }

    // --- begin README quick start (main.swift) ---
    let prob = ODEProblem(model: LotkaVolterraQS(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
    let sol = try solve(prob, Tsit5(), reltol: 1e-8, abstol: 1e-10)
    print(sol.retcode, sol.t.count, sol.u.last!)
    print(try sol(5.0))                                   // dense output

    // The same problem with SUNDIALS CVODE as the reference integrator:
    let ref = try solve(prob, CVODE_Adams(), reltol: 1e-8, abstol: 1e-10, saveat: .every(0.5))
    print(ref.stats)

    // The quick form: a closure over Double. Stiff methods difference it for their Jacobian (or take
    // `jacobian:`); a closure cannot be generic over the scalar, so for AD Jacobians and gradients
    // write the same body as an ODEModel, as above.
    let decay = ODEProblem(f: { du, u, p, t in du[0] = -p[0] * u[0] }, u0: [1.0], tspan: (0, 1), p: [0.5])
    print(try solve(decay, Tsit5()).u.last!)

    // Derivatives: the same model over dual numbers gives ∂u(10)/∂p for all four parameters in one solve.
    let pd = (0..<4).map { Dual<4, Double>(prob.p[$0], seed: $0) }
    let dprob = ODEProblem(model: LotkaVolterraQS(), u0: [Dual(1.0), Dual(1.0)], tspan: (0, 10), p: pd)
    print(try solve(dprob, Tsit5(), reltol: 1e-8, abstol: 1e-10).u.last![0].partials)

    // A stiff problem: a Rosenbrock method (or solve(prob) to let AutoTsit5(Rosenbrock23()) choose).
    print(try solve(TestProblems.rober(), Rodas5P(), reltol: 1e-8, abstol: 1e-10).u.last!)

    // The tolerance as a bound on the global error: the Arenstorf orbit's end point is 4e4 tolerances
    // off with plain DP5 at 1e-6; GlobalErrorControl re-solves at tighter tolerances until it is not.
    let orbit = try solve(TestProblems.arenstorf(), GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
    print(orbit.retcode, orbit.globalErrorEstimate!, orbit.stats.nf)
    // --- end README quick start ---

    #expect(printed.count == 7)
    #expect(orbit.retcode == .success && orbit.globalErrorEstimate! <= 1)
    // The orbit returns to its initial state after one period (HNW I, §II.0).
    let start = TestProblems.arenstorfReference.u
    for i in 0..<4 { #expect(abs(orbit.u.last![i] - start[i]) <= 10 * (1e-6 + 1e-6 * abs(start[i]))) }
    #expect(sol.retcode == .success && ref.retcode == .success)
    #expect(ref.t.count == 21)
    for i in 0..<2 { #expect(abs(sol.u.last![i] - ref.u.last![i]) < 1e-5) }
}

@Test func readmeQuickStartMatchesTheReadme() throws {
    // The README must show the same code as the test above.
    let readme = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/DiffEqTests/QuickStartTests.swift", with: "README.md"), encoding: .utf8)
    for line in [
        "let prob = ODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])",
        "let sol = try solve(prob, Tsit5(), reltol: 1e-8, abstol: 1e-10)",
        "let ref = try solve(prob, CVODE_Adams(), reltol: 1e-8, abstol: 1e-10, saveat: .every(0.5))",
        "let decay = ODEProblem(f: { du, u, p, t in du[0] = -p[0] * u[0] }, u0: [1.0], tspan: (0, 1), p: [0.5])",
        "let pd = (0..<4).map { Dual<4, Double>(prob.p[$0], seed: $0) }",
        "print(try solve(TestProblems.rober(), Rodas5P(), reltol: 1e-8, abstol: 1e-10).u.last!)",
        "let orbit = try solve(TestProblems.arenstorf(), GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6, saveEverystep: false)",
    ] {
        #expect(readme.contains(line), "README lost the quick-start line: \(line)")
    }
}
