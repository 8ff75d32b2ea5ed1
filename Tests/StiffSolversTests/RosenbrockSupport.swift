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

/// The stiff problems of the IVP test set, each with its reference and test-set settings.
enum RosProblem: String, CaseIterable, CustomStringConvertible, Sendable {
    case rober = "ROBER"
    case hires = "HIRES"
    case pollu = "POLLU"
    case orego = "OREGO"
    case vdpol = "VDPOL"

    var description: String { rawValue }

    /// The published reference and settings (from ProblemLibrary's `StiffTestSet`).
    var reference: ReferenceSolution { StiffTestSet(rawValue: rawValue)!.reference }
    var info: TestProblemInfo { StiffTestSet(rawValue: rawValue)!.info }

    /// The test set's options at `reltol`: `abstol = abstolPerReltol · reltol`, end state only.
    func options(reltol: Double) -> SolveOptions {
        SolveOptions(reltol: reltol, abstol: .scalar(info.testSetAbstol(reltol: reltol)), saveEverystep: false)
    }

    /// Solves with a Rosenbrock method and returns the final state and the solution.
    func solve(_ method: RosMethod, reltol: Double) throws -> ODESolution<Double> {
        let options = options(reltol: reltol)
        switch self {
        case .rober: return try method.solve(ProblemLibrary.rober(), options: options)
        case .hires: return try method.solve(ProblemLibrary.hires(), options: options)
        case .pollu: return try method.solve(ProblemLibrary.pollution(), options: options)
        case .orego: return try method.solve(ProblemLibrary.orego(), options: options)
        case .vdpol: return try method.solve(ProblemLibrary.vanDerPol(), options: options)
        }
    }

    /// Solves with any algorithm (CVODE_BDF for the cross-check).
    func solve<A: ODEAlgorithm>(with algorithm: A, reltol: Double) throws -> ODESolution<Double> {
        let options = options(reltol: reltol)
        switch self {
        case .rober: return try algorithm.solve(ProblemLibrary.rober(), options: options)
        case .hires: return try algorithm.solve(ProblemLibrary.hires(), options: options)
        case .pollu: return try algorithm.solve(ProblemLibrary.pollution(), options: options)
        case .orego: return try algorithm.solve(ProblemLibrary.orego(), options: options)
        case .vdpol: return try algorithm.solve(ProblemLibrary.vanDerPol(), options: options)
        }
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
