import DiffEqCore
import ProblemLibrary
import StiffSolvers
import SundialsBridge
import Testing

/// Native (E)SDIRK solutions against CVODE_BDF along the whole trajectory of every stiff problem.
///
/// The native methods run at reltol 1e-8 (the test set's abstol); CVODE_BDF runs at 1e-10 as the
/// partner, and matches every published end point to 6e-8 or better in the mixed error (the same
/// measure as `SDIRKAccuracyTests`). The two must agree to 1e-3 at every save point.
/// This guards against gross disagreement, such as a wrong model or a wrong coefficient giving an
/// O(1) difference; the accuracy tests hold the precise bounds. Measured worst distances: ROBER
/// 1.7e-6, HIRES 5.3e-7, POLLU 1.4e-7, VDPOL 1.1e-4, OREGO 2.9e-4 (TRBDF2, the second-order method,
/// in every case; KenCarp4/Kvaerno5 stay at or below 3.2e-6 except OREGO and VDPOL). Interior
/// points of OREGO and VDPOL pass just after fast transitions (slopes up to 1e6 in VDPOL), where
/// the global error of every solver peaks before it contracts again. (At reltol 1e-6 plain
/// CVODE_BDF itself stops on OREGO with DtLessThanMin at t ≈ 159, unless its stability limit
/// detection is on, so 1e-6 is not used for the partner.)
@Suite struct SDIRKCrossCheckTests {
    static func saveTimes(_ problem: SDIRKProblem) -> [Double] {
        switch problem {
        case .rober: return [1e-5, 1e-3, 0.1, 10, 1e3, 1e5, 1e7, 1e9, 1e11]
        default:
            let t1 = problem.reference.t
            return (1...10).map { t1 * Double($0) / 10 }
        }
    }

    static func options(_ problem: SDIRKProblem, reltol: Double) -> SolveOptions {
        SolveOptions(
            reltol: reltol, abstol: .scalar(problem.info.testSetAbstol(reltol: reltol)),
            saveat: .times(saveTimes(problem)))
    }

    @Test(arguments: SDIRKProblem.fiveWithPublishedSweeps)
    func nativeAgreesWithCVODE(problem: SDIRKProblem) throws {
        let partner = try problem.solve(AlgorithmSolver(algorithm: CVODE_BDF()), options: Self.options(problem, reltol: 1e-10))
        #expect(partner.retcode == .success)
        #expect(problem.mixedError(try #require(partner.u.last), reltol: 1e-10) < 6e-8)
        for method in SDIRKMethod.allCases {
            let sol = try problem.solve(method, options: Self.options(problem, reltol: 1e-8))
            #expect(sol.retcode == .success)
            #expect(sol.t == partner.t)
            var worst = 0.0
            for (a, b) in zip(sol.u, partner.u) {
                for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / (problem.info.testSetAbstol(reltol: 1e-8) / 1e-8 + abs(y))) }
            }
            #expect(worst < 1e-3, "\(method) differs from CVODE_BDF by \(worst)")
        }
    }
}
