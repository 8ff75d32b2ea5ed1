import DiffEqCore
import Ensembles
import StochasticDE

/// Solves an ensemble of SDE problems with `algorithm` over the ranks of `backend.communicator`
/// (see ``solve(_:_:trajectories:batchSize:maxReruns:solver:)``). Each trajectory is seeded by
/// `Ensembles`' `EnsembleProblem.seedingEachTrajectory()`, the function the local back ends
/// use, so its path depends on the trajectory index alone and the result has the bits of
/// `EnsembleSerial` for any number of ranks, shares and threads per rank. `driftErrorWeight` is
/// `δ` of the adaptive methods' error estimate, checked on every rank before any trajectory runs.
///
/// ```swift
/// let ensemble = EnsembleProblem(prob, outputFunc: { sol, _ in .keep(sol.u.last ?? []) }, seed: 7)
/// if let sim = try solve(ensemble, SOSRI(), EnsembleMPI(mpi.world), trajectories: 1000,
///                        options: SolveOptions(reltol: 1e-2, abstol: 1e-2)) {
///     // rank 0: sim.u[i] is trajectory i's end state
/// }
/// ```
@inlinable
public func solve<F: SDEFunction & Sendable, A: SDEAlgorithm, Output: MPITransferable, Reduced>(
    _ ensemble: EnsembleProblem<SDEProblem<F>, ODESolution<F.Scalar>, Output, Reduced>, _ algorithm: A, _ backend: EnsembleMPI,
    trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions(),
    driftErrorWeight: Double = 1.0 / 6
) throws -> EnsembleSolution<Reduced>? {
    do {
        try SDESetup.validate(driftErrorWeight: driftErrorWeight)
    } catch {
        throw EnsembleError.invalidArgument("\(error)")
    }
    return try solve(
        ensemble.seedingEachTrajectory(), backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try solve(problem, algorithm, options: options, driftErrorWeight: driftErrorWeight) })
}
