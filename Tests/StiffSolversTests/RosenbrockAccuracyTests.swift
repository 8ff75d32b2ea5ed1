import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import SundialsBridge
import Testing

/// The stiff problems of the IVP test set (Mazzia & Magherini, release 2.4) with published
/// tolerance sweeps (``StiffTestSet/fiveWithPublishedSweeps``; E5 and VDPOLM are judged in
/// `OutsideReferenceTests`) against their published reference solutions, at the test set's `abstol` for each `reltol`, and against
/// CVODE_BDF.
///
/// "Error" is ``tolerancesOfError``: the test set's mixed error (`mescd`) in units of the
/// requested tolerance, `max_i |u_i − ref_i| / (abstol + reltol·|ref_i|)`; a solve passes when
/// its end state is within 10 tolerances. These are global errors at the end of long
/// integrations, so 10 leaves room for accumulation, not for a wrong method.
@Suite struct RosenbrockAccuracyTests {
    /// Cases that miss the bound (measured; reported, not loosened): Rosenbrock23 is a second
    /// order method whose global error on the limit cycles of OREGO and VDPOL accumulates well
    /// past the local tolerance: OREGO 106 (1e-6) and 321 (1e-8), VDPOL 24 (1e-8). Under
    /// ``GlobalErrorControl`` all three meet it (`StiffGlobalErrorControlTests`).
    static let knownMisses: Set<String> = [
        "Rosenbrock23 OREGO 1e-06", "Rosenbrock23 OREGO 1e-08", "Rosenbrock23 VDPOL 1e-08",
    ]
    /// Rosenbrock23 at reltol 1e-8 on OREGO and VDPOL takes 59 000 and 86 000 steps (3.8 s in
    /// a debug build) to confirm a known miss: run only with ROSENBROCK_LONG_TESTS set.
    static let longCases: Set<String> = ["Rosenbrock23 OREGO 1e-08", "Rosenbrock23 VDPOL 1e-08"]

    /// CVODE_BDF's end states at reltol 1e-10 (test-set abstol): within 6 tolerances of 1e-8 of
    /// every reference (measured: ROBER 0.04, HIRES 0.5, POLLU 0.2, OREGO 6, VDPOL 0.5).
    static let cvodeEnd: [RosProblem: [Double]] = {
        var out: [RosProblem: [Double]] = [:]
        for problem in RosProblem.fiveWithPublishedSweeps {
            if let sol = try? problem.solve(with: CVODE_BDF(), reltol: 1e-10), sol.retcode == .success {
                out[problem] = sol.u.last
            }
        }
        return out
    }()

    static func check(_ error: Double, _ what: String, _ key: String) {
        if knownMisses.contains(key) {
            withKnownIssue("\(key): \(what) \(error) tolerances") { #expect(error <= 10, "\(key)") }
        } else {
            #expect(error <= 10, "\(key): \(what) \(error) tolerances")
        }
    }

    /// The end state within 10 tolerances of the published reference, and of CVODE_BDF's.
    @Test(arguments: RosMethod.allCases, RosProblem.fiveWithPublishedSweeps)
    func endStateMatchesTheReferenceAndCVODE(method: RosMethod, problem: RosProblem) throws {
        let cvode = try #require(Self.cvodeEnd[problem], "CVODE_BDF failed on \(problem)")
        let long = RosEnvironment.longTests
        for reltol in [1e-6, 1e-8] {
            let key = "\(method) \(problem) \(reltol)"
            if Self.longCases.contains(key) && !long { continue }
            let sol = try problem.solve(method, reltol: reltol)
            #expect(sol.retcode == .success)
            #expect(sol.t.last == problem.reference.t)
            let u = try #require(sol.u.last)
            let abstol = problem.info.testSetAbstol(reltol: reltol)
            Self.check(tolerancesOfError(u, problem.reference.u, reltol: reltol, abstol: abstol), "error", key)
            Self.check(tolerancesOfError(u, cvode, reltol: reltol, abstol: abstol), "difference from CVODE_BDF", key)
        }
    }
}

enum RosEnvironment {
    static var longTests: Bool { getenv("ROSENBROCK_LONG_TESTS") != nil }
}
