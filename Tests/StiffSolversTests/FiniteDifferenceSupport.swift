import DiffEqCore
import ProblemLibrary
import StiffSolvers

/// Every stiff method of the package, and the default `solve(prob)`, with a chosen Jacobian
/// source (issue #13, item 1).
enum StiffMethod: String, CaseIterable, CustomStringConvertible, Sendable {
    case rodas5P = "Rodas5P"
    case kenCarp4 = "KenCarp4"
    case rosenbrock23 = "Rosenbrock23"
    case trbdf2 = "TRBDF2"
    case kvaerno5 = "Kvaerno5"
    case rodas4 = "Rodas4"
    /// `solve(prob)` (AutoTsit5(Rosenbrock23())); with an explicit Jacobian source,
    /// `AutoTsit5(Rosenbrock23(jacobian:))`, the same algorithm.
    case defaultSolve = "solve(prob)"

    var description: String { rawValue }

    func solve<F: ODEFunction>(
        _ problem: ODEProblem<F>, reltol: Double, abstol: Double, jacobian: JacobianSource = .automatic
    ) throws -> ODESolution<F.Scalar> {
        let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
        switch self {
        case .rodas5P: return try Rodas5P(jacobian: jacobian).solve(problem, options: options)
        case .kenCarp4: return try KenCarp4(jacobian: jacobian).solve(problem, options: options)
        case .rosenbrock23: return try Rosenbrock23(jacobian: jacobian).solve(problem, options: options)
        case .trbdf2: return try TRBDF2(jacobian: jacobian).solve(problem, options: options)
        case .kvaerno5: return try Kvaerno5(jacobian: jacobian).solve(problem, options: options)
        case .rodas4: return try Rodas4(jacobian: jacobian).solve(problem, options: options)
        case .defaultSolve:
            // The default algorithm of `solve(prob)` (the DiffEq umbrella's `defaultAlgorithm()`;
            // DiffEqTests/DefaultSolveTests checks that `solve(prob)` runs it).
            return try AutoTsit5(Rosenbrock23(jacobian: jacobian)).solve(problem, options: options)
        }
    }
}

/// The quick form of a problem: its right-hand side wrapped in a closure without a Jacobian,
/// so that every stiff method differences it (what a new user writes first).
func closureForm<F: ODEFunction & Sendable>(_ problem: ODEProblem<F>) -> ODEProblem<ClosureRHS<Double>> where F.Scalar == Double {
    let f = problem.f
    return ODEProblem(
        f: { du, u, p, t in f(&du, u, p, t) }, u0: problem.resolvedInitialState(), tspan: problem.resolvedTimeSpan(),
        p: problem.p)
}

/// Error in tolerances, `max_i |u_i − ref_i| / (abstol + reltol·|ref_i|)` (issue #13's measure).
func errorInTolerances(_ u: [Double], _ reference: [Double], reltol: Double, abstol: Double) -> Double {
    var worst = 0.0
    for (x, r) in zip(u, reference) { worst = Swift.max(worst, Swift.abs(x - r) / (abstol + reltol * Swift.abs(r))) }
    // A NaN state is as wrong as an answer can be.
    return u.allSatisfy(\.isFinite) ? worst : .infinity
}

/// The stiff problems of the library (the test set's five, E5 and VDPOLM) in both forms: the
/// generic model, and its closure form.
enum FormedProblem: String, CaseIterable, CustomStringConvertible, Sendable {
    case rober = "ROBER", hires = "HIRES", pollu = "POLLU", orego = "OREGO", vdpol = "VDPOL"
    case e5 = "E5", vdpolm = "VDPOLM"

    var description: String { rawValue }

    /// The test set's five are ``StiffTestSet``'s (same names).
    var testSetProblem: StiffTestSet? { StiffTestSet(rawValue: rawValue) }

    var reference: ReferenceSolution {
        switch self {
        case .e5: return TestProblems.detestE5Reference
        case .vdpolm: return TestProblems.unscaledVanDerPolReference
        default: return testSetProblem!.reference
        }
    }

    /// The absolute tolerance issue #13 measures with: `1e-4·reltol` for ROBER and HIRES, 1e-24
    /// for E5 (whose components are 1e-22 and below), `reltol` otherwise.
    func abstol(reltol: Double) -> Double {
        switch self {
        case .rober, .hires: return 1e-4 * reltol
        case .e5: return 1e-24
        default: return reltol
        }
    }

    /// Solves in the closure form (`closure: true`, automatic Jacobian: differences) or the
    /// generic form (with `jacobian`).
    func solve(
        _ method: StiffMethod, reltol: Double, closure: Bool, jacobian: JacobianSource = .automatic
    ) throws -> ODESolution<Double> {
        let abstol = abstol(reltol: reltol)
        func run<F: ODEFunction & Sendable>(_ prob: ODEProblem<F>) throws -> ODESolution<Double> where F.Scalar == Double {
            closure
                ? try method.solve(closureForm(prob), reltol: reltol, abstol: abstol, jacobian: jacobian)
                : try method.solve(prob, reltol: reltol, abstol: abstol, jacobian: jacobian)
        }
        switch self {
        case .rober: return try run(TestProblems.rober())
        case .hires: return try run(TestProblems.hires())
        case .pollu: return try run(TestProblems.pollution())
        case .orego: return try run(TestProblems.orego())
        case .vdpol: return try run(TestProblems.vanDerPol())
        case .e5: return try run(TestProblems.detestE5())
        case .vdpolm: return try run(TestProblems.unscaledVanDerPol())
        }
    }

    /// Error in tolerances at the end (infinite when the solve stopped early or is not finite).
    func error(_ sol: ODESolution<Double>, reltol: Double) -> Double {
        guard let u = sol.u.last, sol.t.last == reference.t else { return .infinity }
        return errorInTolerances(u, reference.u, reltol: reltol, abstol: abstol(reltol: reltol))
    }
}
