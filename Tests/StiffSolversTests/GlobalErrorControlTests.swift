import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// Every native stiff method under ``GlobalErrorControl`` on the stiff problems of the IVP test
/// set, at reltol 1e-6 and 1e-8 with the test set's abstol: the end point within 10 tolerances
/// of the published reference (Mazzia & Magherini), the criterion that the plain methods miss on
/// the cases listed in `SDIRKAccuracyTests` and `RosenbrockAccuracyTests`. E5 and VDPOLM under
/// ``GlobalErrorControl`` are in `OutsideReferenceTests`.
@Suite struct StiffGlobalErrorControlTests {
    enum Method: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case trbdf2 = "TRBDF2", kenCarp4 = "KenCarp4", kvaerno5 = "Kvaerno5"
        case rosenbrock23 = "Rosenbrock23", rodas4 = "Rodas4", rodas5P = "Rodas5P"
        var testDescription: String { rawValue }

        /// `maxiters` applies to each solve; the second-order methods need up to 3·10⁵ steps in
        /// their tightest solve.
        func solve(_ problem: StiffTestSet, reltol: Double) throws -> ODESolution<Double> {
            var options = problem.options(reltol: reltol)
            options.maxiters = 10_000_000
            switch self {
            case .trbdf2: return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(TRBDF2())), options: options)
            case .kenCarp4: return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(KenCarp4())), options: options)
            case .kvaerno5: return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(Kvaerno5())), options: options)
            case .rosenbrock23:
                return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(Rosenbrock23())), options: options)
            case .rodas4: return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(Rodas4())), options: options)
            case .rodas5P: return try problem.solve(AlgorithmSolver(algorithm: GlobalErrorControl(Rodas5P())), options: options)
            }
        }
    }

    @Test(arguments: Method.allCases, StiffTestSet.fiveWithPublishedSweeps)
    func endPointWithinTenTolerances(method: Method, problem: StiffTestSet) throws {
        for reltol in [1e-6, 1e-8] {
            let sol = try method.solve(problem, reltol: reltol)
            #expect(sol.retcode == .success, "\(sol.message ?? "")")
            let estimate = try #require(sol.globalErrorEstimate)
            #expect(estimate <= 1)
            let error = problem.mixedError(try #require(sol.u.last), reltol: reltol) / reltol
            #expect(error <= 10, "\(method) \(problem) \(reltol): \(error) tolerances (estimate \(estimate))")
        }
    }
}
