import DiffEqCore

/// Solves an ensemble on a local back end with any per-trajectory solver: the entry point for
/// problem kinds without a `solve` overload of their own, and for ensembles whose "solve" is
/// another computation on the problem (a gradient: see ``LossGradient``).
///
/// `trajectories` trajectories are run in batches of `batchSize` (default: all in one batch);
/// after each batch the reduction folds the batch's outputs in trajectory order and may stop
/// the ensemble. A trajectory may be rerun up to `maxReruns` times at its output function's
/// request. Throws ``EnsembleError`` for invalid settings (before any work) and when a
/// trajectory's problem function, solve or output function throws.
public func solve<Problem, Solution, Output, Reduced, B: EnsembleAlgorithm>(
    _ ensemble: EnsembleProblem<Problem, Solution, Output, Reduced>, _ backend: B, trajectories: Int,
    batchSize: Int? = nil, maxReruns: Int = 100, solver: @escaping @Sendable (Problem) throws -> Solution
) throws(EnsembleError) -> EnsembleSolution<Reduced> {
    try validateEnsembleSettings(trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns)
    let runner = TrajectoryRunner(ensemble, maxReruns: maxReruns, solver: solver)
    let session = try backend.makeSession()
    defer { session.finish() }
    let result = try runEnsembleBatches(
        trajectories: trajectories, batchSize: batchSize, reduction: ensemble.reduction,
        execute: { (range: Range<Int>) throws(EnsembleError) in session.map(Array(range), runner.run) },
        agree: { (decision: BatchDecision) throws(EnsembleError) in decision },
        failure: { EnsembleError.trajectoryFailed($0) })
    // A local back end always holds the result.
    return result ?? EnsembleSolution(u: ensemble.reduction.initial, trajectories: [], converged: false, requested: trajectories)
}

/// Solves an ensemble of ODE problems with `algorithm` and `options` on `backend`
/// (``EnsembleSerial``, ``EnsembleThreads``); see
/// ``solve(_:_:trajectories:batchSize:maxReruns:solver:)`` for batches and reruns.
///
/// ```swift
/// let sim = try solve(ensemble, Tsit5(), EnsembleThreads(4), trajectories: 1000,
///                     options: SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.1)))
/// ```
@inlinable
public func solve<F: ODEFunction & Sendable, A: ODEAlgorithm & Sendable, Output, Reduced, B: EnsembleAlgorithm>(
    _ ensemble: EnsembleProblem<ODEProblem<F>, ODESolution<F.Scalar>, Output, Reduced>, _ algorithm: A, _ backend: B,
    trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions()
) throws(EnsembleError) -> EnsembleSolution<Reduced> {
    try solve(
        ensemble, backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try algorithm.solve(problem, options: options) })
}

/// As the ODE form, for fixed-size problems (``StaticODEProblem``) and their algorithms.
@inlinable
public func solve<F: StaticODEFunction & Sendable, A: StaticODEAlgorithm & Sendable, Output, Reduced, B: EnsembleAlgorithm>(
    _ ensemble: EnsembleProblem<StaticODEProblem<F>, StaticODESolution<F.State>, Output, Reduced>, _ algorithm: A,
    _ backend: B, trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions()
) throws(EnsembleError) -> EnsembleSolution<Reduced> where F.Parameters: Sendable, F.State.Scalar == Double {
    try solve(
        ensemble, backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try algorithm.solve(problem, options: options) })
}

// Performance: the ODE and fixed-size entry points are `@inlinable` so that the solver closure
// (`algorithm.solve(problem, options:)`) is compiled in the caller's module, where the problem,
// right-hand side and algorithm types are concrete and the step loop specializes (DESIGN.md §2).
// Without it the closure ran the generic, unspecialized loop: ensemble-bench measured 7.6 µs per
// Lorenz Tsit5 step (fixed-size form) before. The batch loop, the runner and the back ends only
// call the closure, once per trajectory, and need no specialization.
