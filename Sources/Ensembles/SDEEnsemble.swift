import DiffEqCore
import StochasticDE

// SDE problems in ensembles: trajectory i draws from the Wiener process of its
// `TrajectoryContext.seed` (derived from the ensemble's seed, the index and the repeat only),
// so Serial, Threads(k) and MPI(n) give the same paths and the same bits.

extension SDEProblem: EnsembleProblemKind {
    public typealias Solution = ODESolution<F.Scalar>
}

/// A problem whose random draws are fixed by one seed it holds: an ensemble sets it to each
/// trajectory's ``TrajectoryContext/seed`` (``EnsembleProblem/seedingEachTrajectory()``), the
/// same way on every back end. ``SDEProblem`` conforms (its ``SDEProblem/seed`` picks the
/// Wiener process `solve(prob, alg, options:)` draws from).
public protocol TrajectorySeeded {
    var seed: UInt64 { get set }
}

extension SDEProblem: TrajectorySeeded {}

extension EnsembleProblem where Problem: TrajectorySeeded {
    /// This ensemble with each trajectory's problem, as `probFunc` makes it, given the
    /// trajectory's seed (``TrajectoryContext/seed``): its noise then depends on the ensemble's
    /// seed, the trajectory index and the repeat alone, never on the back end, the rank or the
    /// order the trajectories ran in, and a rerun asked for by `outputFunc` gets a new seed.
    /// Every back end's SDE `solve` (``EnsembleSerial``, ``EnsembleThreads``, `EnsembleMPI`)
    /// seeds through this one function.
    public func seedingEachTrajectory() -> EnsembleProblem {
        var seeded = self
        let probFunc = self.probFunc
        seeded.probFunc = { prob, context in
            var trajectory = try probFunc(prob, context)
            trajectory.seed = context.seed
            return trajectory
        }
        return seeded
    }
}

/// Solves an ensemble of SDE problems with `algorithm` and `options` on `backend`: trajectory
/// `i`'s problem is `probFunc`'s, with its ``SDEProblem/seed`` then set to the trajectory's seed
/// (``EnsembleProblem/seedingEachTrajectory()``), so its noise depends on the index alone.
/// `driftErrorWeight` is `δ` of the adaptive methods' error estimate (StochasticDE's `solve`),
/// checked before any trajectory runs.
///
/// ```swift
/// let ensemble = EnsembleProblem(prob, outputFunc: { sol, _ in .keep(sol.u.last![0]) }, seed: 7)
/// let sim = try solve(ensemble, SOSRI(), EnsembleThreads(4), trajectories: 10_000,
///                     options: SolveOptions(reltol: 1e-2, abstol: 1e-2))
/// ```
@inlinable
public func solve<F: SDEFunction & Sendable, A: SDEAlgorithm, Output, Reduced, B: EnsembleAlgorithm>(
    _ ensemble: EnsembleProblem<SDEProblem<F>, ODESolution<F.Scalar>, Output, Reduced>, _ algorithm: A, _ backend: B,
    trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions(),
    driftErrorWeight: Double = 1.0 / 6
) throws(EnsembleError) -> EnsembleSolution<Reduced> {
    do {
        try SDESetup.validate(driftErrorWeight: driftErrorWeight)
    } catch {
        throw .invalidArgument("\(error)")
    }
    return try solve(
        ensemble.seedingEachTrajectory(), backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try solve(problem, algorithm, options: options, driftErrorWeight: driftErrorWeight) })
}
