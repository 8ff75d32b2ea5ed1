import DiffEqCore
import ProblemLibrary
import StiffSolvers

/// Something that solves any of the stiff test problems (a method enum of a family, or a wrapped
/// algorithm such as CVODE_BDF): the problems have different right-hand-side types, so the one
/// place that knows them (``StiffTestSet/solve(_:options:)``) calls back generically.
protocol StiffProblemSolver {
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws -> ODESolution<F.Scalar>
}

struct AlgorithmSolver<A: ODEAlgorithm>: StiffProblemSolver {
    let algorithm: A
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws -> ODESolution<F.Scalar> {
        try algorithm.solve(problem, options: options)
    }
}

extension StiffTestSet {
    /// The test set's options at `reltol`: its abstol for `reltol` (unless given), end state only.
    func options(reltol: Double, abstol: Double? = nil) -> SolveOptions {
        SolveOptions(reltol: reltol, abstol: .scalar(abstol ?? info.testSetAbstol(reltol: reltol)), saveEverystep: false)
    }

    /// Solves this problem (with its published settings) by `solver`.
    func solve<S: StiffProblemSolver>(_ solver: S, options: SolveOptions) throws -> ODESolution<Double> {
        switch self {
        case .rober: return try solver.solve(TestProblems.rober(), options: options)
        case .hires: return try solver.solve(TestProblems.hires(), options: options)
        case .pollu: return try solver.solve(TestProblems.pollution(), options: options)
        case .orego: return try solver.solve(TestProblems.orego(), options: options)
        case .vdpol: return try solver.solve(TestProblems.vanDerPol(), options: options)
        case .e5: return try solver.solve(TestProblems.detestE5(), options: options)
        case .vdpolm: return try solver.solve(TestProblems.unscaledVanDerPol(), options: options)
        }
    }

    /// Solves with any algorithm (CVODE_BDF for the cross-checks).
    func solve<A: ODEAlgorithm>(with algorithm: A, reltol: Double, abstol: Double? = nil) throws -> ODESolution<Double> {
        try solve(AlgorithmSolver(algorithm: algorithm), options: options(reltol: reltol, abstol: abstol))
    }

    /// The test set's mixed error `max_i |u_i − ref_i| / (abstol/reltol + |ref_i|)` (its `mescd`
    /// is `-log10` of this) at the test set's abstol for `reltol`: a relative error for components
    /// above `abstol/reltol`, an absolute one (scaled by `reltol/abstol`) below.
    func mixedError(_ u: [Double], reltol: Double) -> Double {
        let ratio = info.testSetAbstol(reltol: reltol) / reltol
        var worst = 0.0
        for (x, r) in zip(u, reference.u) { worst = Swift.max(worst, Swift.abs(x - r) / (ratio + Swift.abs(r))) }
        return worst
    }
}
