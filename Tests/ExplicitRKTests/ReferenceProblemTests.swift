import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary

/// A published reference problem: the solve, and its reference state at the end of the span.
struct ReferenceCase: Sendable, CustomTestStringConvertible {
    let name: String
    let reference: [Double]
    /// The end state with a tableau at `reltol = abstol`, under ``GlobalErrorControl`` when asked.
    let solveWith: @Sendable (ButcherTableau, Double, Bool) throws -> [Double]
    var testDescription: String { name }
}

private func endState<F: ODEFunction>(
    _ problem: ODEProblem<F>, _ tableau: ButcherTableau, _ tol: Double, globalControl: Bool = false
) throws -> [Double] where F.Scalar == Double {
    let method = TableauAlgorithm(tableau: tableau)
    let sol =
        globalControl
        ? try solve(problem, GlobalErrorControl(method), reltol: tol, abstol: .scalar(tol), saveEverystep: false, maxiters: 10_000_000)
        : try solve(problem, method, reltol: tol, abstol: .scalar(tol), saveEverystep: false, maxiters: 10_000_000)
    #expect(sol.retcode == .success, "\(sol.message ?? "")")
    if globalControl { #expect(try #require(sol.globalErrorEstimate) <= 1) }
    return sol.u.last!
}

let referenceCases: [ReferenceCase] = [
    ReferenceCase(name: "Pleiades, t = 3", reference: TestProblems.pleiadesReference.u) {
        try endState(TestProblems.pleiades(), $0, $1, globalControl: $2)
    },
    ReferenceCase(name: "Arenstorf, one period", reference: TestProblems.arenstorfReference.u) {
        try endState(TestProblems.arenstorf(), $0, $1, globalControl: $2)
    },
    ReferenceCase(name: "DETEST A2, t = 20", reference: TestProblems.detestA2Reference.u) {
        try endState(TestProblems.detestA2(), $0, $1, globalControl: $2)
    },
    ReferenceCase(name: "DETEST A4, t = 20", reference: TestProblems.detestA4Reference.u) {
        try endState(TestProblems.detestA4(), $0, $1, globalControl: $2)
    },
]

/// The end-point error of every adaptive method on the published reference problems, in the
/// weights the tolerance is defined by (`|u_i - ref_i| / (abstol + reltol |ref_i|)`): at most 10
/// means "within a factor of 10 of the requested tolerance".
///
/// The DETEST problems meet it for every method. Pleiades (close encounters of the bodies) and the
/// Arenstorf orbit (a near-collision with the moon) amplify the per-step errors that the
/// tolerance controls into global errors up to 10^4-10^5 times larger, for the methods here and
/// for CVODE_Adams alike (global-error-bench at 1e-6 and 1e-8: DP5 on Arenstorf 4e4 and 7e3,
/// CVODE_Adams 2.0e5 and 5.1e4; on Pleiades DP5 970 and 300, Vern7 7.6 and 8.2, the one method
/// that stays within 10 there); Hairer, Nørsett & Wanner I, §II.4 (Fig. 4.2) show the same for
/// DOPRI5. On those two the factor-10 criterion is recorded as a known issue where it fails
/// (intermittent: it depends on the method), and what must hold is
/// tolerance proportionality: 1000 times tighter tolerance, at least 10 times smaller error.
///
/// With ``GlobalErrorControl`` (reintegration at tighter tolerances until the estimated global
/// error is within the tolerance) every method meets the criterion on both orbits at 1e-6 and
/// 1e-8; measured by global-error-bench, the largest end-point error is 1.5 tolerances and the
/// work is 2.3-11 times the plain solve's f evaluations, except BS3 (third order): 14 on
/// Pleiades, 46-48 on Arenstorf. Not at 1e-9: there
/// the Arenstorf orbit's rounding-error floor, about 1e-8 (seen in plain solves at reltol
/// 1e-11 ... 1e-13, whose errors jump between 2e-11 and 2e-8 instead of shrinking), is above
/// the accuracy asked for.
@Suite struct ReferenceProblemTests {
    static func scaledError(_ m: MethodCase, _ problem: ReferenceCase, _ tol: Double, globalControl: Bool = false) throws -> Double {
        let u = try problem.solveWith(m.tableau, tol, globalControl)
        return zip(u, problem.reference).map { abs($0 - $1) / (tol + tol * abs($1)) }.max()!
    }

    @Test(arguments: tightToleranceMethods, referenceCases.filter { !$0.name.hasPrefix("DETEST") })
    func sensitiveOrbitsMeetTheToleranceUnderGlobalErrorControl(_ m: MethodCase, _ problem: ReferenceCase) throws {
        for tol in [1e-6, 1e-8] {
            let scaled = try Self.scaledError(m, problem, tol, globalControl: true)
            #expect(scaled <= 10, "\(problem.name), reltol = abstol = \(tol): scaled error \(scaled)")
        }
    }

    @Test(arguments: tightToleranceMethods, referenceCases.filter { $0.name.hasPrefix("DETEST") })
    func reachesRequestedTolerance(_ m: MethodCase, _ problem: ReferenceCase) throws {
        for tol in [1e-6, 1e-8] {
            let scaled = try Self.scaledError(m, problem, tol)
            #expect(scaled <= 10, "\(problem.name), reltol = abstol = \(tol): scaled error \(scaled)")
        }
    }

    @Test(arguments: tightToleranceMethods, referenceCases.filter { !$0.name.hasPrefix("DETEST") })
    func sensitiveOrbitsAreToleranceProportional(_ m: MethodCase, _ problem: ReferenceCase) throws {
        let loose = try Self.scaledError(m, problem, 1e-6) * 1e-6
        let tight = try Self.scaledError(m, problem, 1e-9) * 1e-9
        #expect(tight * 10 <= loose, "\(problem.name): error \(loose) at 1e-6, \(tight) at 1e-9")
        withKnownIssue("global error amplification on \(problem.name) (see the suite's note)", isIntermittent: true) {
            #expect(loose / 1e-6 <= 10 && tight / 1e-9 <= 10, "scaled errors \(loose / 1e-6), \(tight / 1e-9)")
        }
    }
}
