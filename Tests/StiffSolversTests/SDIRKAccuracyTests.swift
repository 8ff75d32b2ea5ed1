import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// End-point accuracy on the stiff problems of the IVP test set with published tolerance sweeps
/// (``StiffTestSet/fiveWithPublishedSweeps``; E5 and VDPOLM are judged in `OutsideReferenceTests`)
/// against their published references, at `reltol` 1e-6 and 1e-8 with the test set's `abstol` for each problem
/// (`abstol = reltol`, and `1e-4·reltol` for ROBER, `TestProblems.roberInfo`).
///
/// Error: the test set's mixed error `max_i |u_i − ref_i| / (abstol/reltol + |ref_i|)` (its
/// `mescd` is `-log10` of it): relative for components above `abstol/reltol`, absolute (in units of
/// `abstol/reltol`) below, so that components that decay to `1e-17` (POLLU) or `1e-13` (ROBER) are
/// judged at the accuracy the tolerances ask for. Requirement: error ≤ 10·reltol.
///
/// The requirement bounds a global error by ten times a local tolerance. Methods that control the
/// error per step do not meet it on every problem. The failures below are measured facts, kept
/// as known issues with the criterion unchanged, so a change that fixes one shows up as an
/// unexpected pass. Measured error/reltol (filtered error estimate, κ = 0.03):
///
/// | method   | ROBER       | HIRES       | POLLU       | OREGO          | VDPOL       |
/// |----------|-------------|-------------|-------------|----------------|-------------|
/// | TRBDF2   | 0.62, 5.46  | 19.5, 70.2  | 3.18, 25.6  | 960, 4330      | 45.0, 201   |
/// | KenCarp4 | 0.016, 0.21 | 0.42, 3.97  | 0.012, 0.40 | 40.6, 44.1     | 1.64, 6.09  |
/// | Kvaerno5 | 0.011, 0.06 | 0.07, 1.82  | 0.04, 0.66  | 8.96, 12.9     | 1.83, 0.91  |
///
/// (first value reltol 1e-6, second 1e-8; with the Jacobian refreshed unless the Newton rate
/// was below 0.001, ``SDIRKNewtonOptions/slowConvergenceRate``, since issue #13. TRBDF2 on POLLU
/// at 1e-8 went from 7.6 to 25.6 with that change: its global error is its steps' local errors
/// added up, and a change of the step sequence moves that sum by up to 3x. No refresh rate
/// removes it without a worse failure: 0.02 ... 0.3 bring it to 9.2 ... 9.4 but let TRBDF2
/// accept OREGO steps whose true local error is 80-93 tolerances, and 0.1 or more keep a stale
/// `J` on VDPOLM; measured table on ``SDIRKNewtonOptions/slowConvergenceRate``. Measured step by
/// step in `TRBDF2ErrorAccumulationTests.polluGlobalErrorIsAccumulatedLocalError`: each of the
/// 247 steps is within 0.315 tolerances of its true local error, and 25.6 is 0.41 times their sum.) For comparison CVODE_BDF: HIRES 6.2 / 43, VDPOL
/// 18 / 33, OREGO fails at 1e-6 (DtLessThanMin at t ≈ 159; 343 with
/// `stabilityLimitDetection`) and 50 at 1e-8. TRBDF2 is second
/// order: it takes 10³-10⁴ steps, and its global error grows with the step count: measured in
/// `TRBDF2ErrorAccumulationTests`, every sampled step of HIRES and OREGO (with `J` refreshed) is
/// within 0.6 tolerances of its true local error, and the global error is 0.7-1.1 times the
/// steps' local errors added up (accumulation, neither amplification nor a missed estimate). Under
/// ``GlobalErrorControl`` every case meets the criterion (`StiffGlobalErrorControlTests`).
@Suite struct SDIRKAccuracyTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let method: SDIRKMethod
        let problem: SDIRKProblem
        let reltol: Double
        var testDescription: String { "\(method) \(problem) reltol \(reltol)" }
    }

    static let cases: [Case] = SDIRKMethod.allCases.flatMap { m in
        SDIRKProblem.fiveWithPublishedSweeps.flatMap { p in [1e-6, 1e-8].map { Case(method: m, problem: p, reltol: $0) } }
    }

    /// The cases measured above 10·reltol.
    static func isKnownFailure(_ c: Case) -> Bool {
        switch (c.method, c.problem) {
        case (.trbdf2, .hires), (.trbdf2, .orego), (.trbdf2, .vdpol): return true
        case (.trbdf2, .pollu): return c.reltol == 1e-8
        case (.kenCarp4, .orego): return true
        case (.kvaerno5, .orego): return c.reltol == 1e-8
        default: return false
        }
    }

    @Test(arguments: cases)
    func endPointMatchesTheReference(_ c: Case) throws {
        let sol = try c.problem.solve(reltol: c.reltol, with: c.method)
        #expect(sol.retcode == .success)
        #expect(sol.t.last == c.problem.reference.t)
        let error = c.problem.mixedError(try #require(sol.u.last), reltol: c.reltol)
        if Self.isKnownFailure(c) {
            withKnownIssue("global error above 10·reltol (see the table in the suite's comment)") {
                #expect(error <= 10 * c.reltol, "error/reltol = \(error / c.reltol)")
            }
        } else {
            #expect(error <= 10 * c.reltol, "error/reltol = \(error / c.reltol)")
        }
        // Tightening the tolerance 100x never makes the answer worse.
        if c.reltol == 1e-8 {
            let loose = try c.problem.solve(reltol: 1e-6, with: c.method)
            #expect(error < c.problem.mixedError(try #require(loose.u.last), reltol: 1e-6))
        }
    }
}
