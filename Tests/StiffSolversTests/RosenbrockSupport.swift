import DiffEqCore
import ProblemLibrary
import StiffSolvers

/// The Rosenbrock methods under test, with the orders the tests hold them to.
enum RosMethod: String, CaseIterable, CustomStringConvertible, Sendable {
    case rosenbrock23 = "Rosenbrock23"
    case rodas4 = "Rodas4"
    case rodas5P = "Rodas5P"

    var description: String { rawValue }

    var tableau: RosenbrockTableau {
        switch self {
        case .rosenbrock23: return .rosenbrock23
        case .rodas4: return .rodas4
        case .rodas5P: return .rodas5P
        }
    }

    func solve<F: ODEFunction>(
        _ problem: ODEProblem<F>, options: SolveOptions, jacobian: JacobianSource = .automatic
    ) throws -> ODESolution<F.Scalar> {
        switch self {
        case .rosenbrock23: return try Rosenbrock23(jacobian: jacobian).solve(problem, options: options)
        case .rodas4: return try Rodas4(jacobian: jacobian).solve(problem, options: options)
        case .rodas5P: return try Rodas5P(jacobian: jacobian).solve(problem, options: options)
        }
    }
}

/// The stiff problems of the IVP test set (ProblemLibrary's list; shared support in
/// StiffTestSupport.swift).
typealias RosProblem = StiffTestSet

extension RosMethod: StiffProblemSolver {
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws -> ODESolution<F.Scalar> {
        try solve(problem, options: options, jacobian: .automatic)
    }
}

extension StiffTestSet {
    /// Solves with a Rosenbrock method at the test set's settings.
    func solve(_ method: RosMethod, reltol: Double) throws -> ODESolution<Double> {
        try solve(method, options: options(reltol: reltol))
    }
}

/// The error of `u` against `reference` in units of the requested tolerance:
/// `max_i |u_i − ref_i| / (abstol + reltol·|ref_i|)`. This is the test set's mixed error
/// (`mescd` = −log10 of `max_i |u_i − ref_i| / (abstol/reltol + |ref_i|)`) divided by `reltol`:
/// a relative error with the absolute tolerance as its floor, so 1 means "as accurate as
/// asked" and components below `abstol` are judged absolutely, as the solver controls them.
func tolerancesOfError(_ u: [Double], _ reference: [Double], reltol: Double, abstol: Double) -> Double {
    var worst = 0.0
    for i in reference.indices {
        worst = Swift.max(worst, Swift.abs(u[i] - reference[i]) / (abstol + reltol * Swift.abs(reference[i])))
    }
    return worst
}
