import DiffEqCore
import Ensembles

/// Ensembles over the ranks of an MPI communicator: each rank solves its share of every batch
/// (on ``threadsPerRank`` threads), the outcomes travel as bytes, and the reduction folds them in
/// trajectory order, on the root rank (``Placement/root(_:)``: outputs gathered there) or on
/// every rank (``Placement/allRanks``: outputs gathered everywhere, each rank folds the same
/// bytes in the same order). Either way the result has the bits of ``EnsembleSerial``, for any
/// number of ranks and threads.
///
/// What travels is every trajectory's output, so keep outputs small in the output function
/// (an end state, a loss and gradient) and fold them in the reduction; a rank's share is fixed
/// by ``share`` before the batch runs (no stealing across processes: use ``Share/strided``
/// when the cost of a trajectory grows with its index).
public struct EnsembleMPI {
    public enum Share: String, Sendable {
        /// Rank `r` of `n` runs the `r`-th contiguous block of each batch.
        case contiguous
        /// Rank `r` runs trajectories `r, r + n, r + 2n, ...` of each batch.
        case strided
    }
    public enum Placement: Sendable, Equatable {
        /// Outputs are gathered on this rank, which folds them; the others get `nil`.
        case root(Int)
        /// Every rank gets every output and folds them (the all-reduce of data-parallel training).
        case allRanks
    }

    public let communicator: MPICommunicator
    public let share: Share
    public let placement: Placement
    /// Threads per rank (``EnsembleThreads``); 1 runs a rank's share serially.
    public let threadsPerRank: Int

    public init(_ communicator: MPICommunicator, share: Share = .contiguous, placement: Placement = .root(0), threadsPerRank: Int = 1) {
        self.communicator = communicator
        self.share = share
        self.placement = placement
        self.threadsPerRank = threadsPerRank
    }

    /// The trajectories of `batch` this rank runs, in increasing order.
    public func indices(of batch: Range<Int>, rank: Int) -> [Int] {
        let n = communicator.size
        switch share {
        case .contiguous:
            let count = batch.count
            return Array((batch.lowerBound + rank * count / n)..<(batch.lowerBound + (rank + 1) * count / n))
        case .strided:
            return Array(stride(from: batch.lowerBound + rank, to: batch.upperBound, by: n))
        }
    }
}

/// Solves an ensemble over the ranks of `backend.communicator` with any per-trajectory solver.
/// Every rank must call it with the same ensemble and settings. Returns the result on the rank(s)
/// of ``EnsembleMPI/placement`` and `nil` on the others. Throws ``EnsembleError`` (on every rank:
/// the decision is shared) or ``MPIError``.
public func solve<Problem, Solution, Output: MPITransferable, Reduced>(
    _ ensemble: EnsembleProblem<Problem, Solution, Output, Reduced>, _ backend: EnsembleMPI, trajectories: Int,
    batchSize: Int? = nil, maxReruns: Int = 100, solver: @escaping @Sendable (Problem) throws -> Solution
) throws -> EnsembleSolution<Reduced>? {
    try validateEnsembleSettings(trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns)
    let comm = backend.communicator
    if case .root(let r) = backend.placement, !(0..<comm.size).contains(r) {
        throw EnsembleError.invalidArgument("root rank \(r) outside 0..<\(comm.size)")
    }
    let runner = TrajectoryRunner(ensemble, maxReruns: maxReruns, solver: solver)
    let session = try EnsembleThreads(backend.threadsPerRank).makeSession()
    defer { session.finish() }

    func execute(_ batch: Range<Int>) throws -> [TrajectoryOutcome<Output>]? {
        let mine = backend.indices(of: batch, rank: comm.rank)
        var buffer = MPIBuffer()
        session.map(mine, runner.run).encode(to: &buffer)
        let parts: [[UInt8]]?
        switch backend.placement {
        case .allRanks: parts = try comm.allGather(buffer.bytes)
        case .root(let root): parts = try comm.gather(buffer.bytes, root: root)
        }
        guard let parts else { return nil }
        var ordered = [TrajectoryOutcome<Output>?](repeating: nil, count: batch.count)
        for (rank, bytes) in parts.enumerated() {
            var reader = MPIReader(bytes)
            let outcomes = try [TrajectoryOutcome<Output>](from: &reader)
            let indices = backend.indices(of: batch, rank: rank)
            guard outcomes.count == indices.count, reader.isAtEnd else {
                throw MPIError(misuse: "rank \(rank) sent \(outcomes.count) outcomes for \(indices.count) trajectories", call: "EnsembleMPI")
            }
            for (k, i) in indices.enumerated() { ordered[i - batch.lowerBound] = outcomes[k] }
        }
        return try ordered.map { outcome throws(MPIError) in
            guard let outcome else { throw MPIError(misuse: "a trajectory of the batch came back from no rank", call: "EnsembleMPI") }
            return outcome
        }
    }

    func agree(_ decision: BatchDecision) throws -> BatchDecision {
        // With every rank folding the same bytes in the same order, every rank reached the same
        // decision; with one folding rank, its decision is broadcast.
        guard case .root(let root) = backend.placement else { return decision }
        var buffer = MPIBuffer()
        decision.encode(to: &buffer)
        var reader = MPIReader(try comm.broadcast(buffer.bytes, root: root))
        return try BatchDecision(from: &reader)
    }

    let result = try runEnsembleBatches(
        trajectories: trajectories, batchSize: batchSize, reduction: ensemble.reduction, execute: execute, agree: agree,
        failure: { EnsembleError.trajectoryFailed($0) as any Error })
    if case .root(let root) = backend.placement, comm.rank != root { return nil }
    return result
}

/// Solves an ensemble of ODE problems with `algorithm` over the ranks of `backend.communicator`
/// (see ``solve(_:_:trajectories:batchSize:maxReruns:solver:)``).
@inlinable
public func solve<F: ODEFunction & Sendable, A: ODEAlgorithm & Sendable, Output: MPITransferable, Reduced>(
    _ ensemble: EnsembleProblem<ODEProblem<F>, ODESolution<F.Scalar>, Output, Reduced>, _ algorithm: A, _ backend: EnsembleMPI,
    trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions()
) throws -> EnsembleSolution<Reduced>? {
    try solve(
        ensemble, backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try algorithm.solve(problem, options: options) })
}

/// As the ODE form, for fixed-size problems.
@inlinable
public func solve<F: StaticODEFunction & Sendable, A: StaticODEAlgorithm & Sendable, Output: MPITransferable, Reduced>(
    _ ensemble: EnsembleProblem<StaticODEProblem<F>, StaticODESolution<F.State>, Output, Reduced>, _ algorithm: A,
    _ backend: EnsembleMPI, trajectories: Int, batchSize: Int? = nil, maxReruns: Int = 100, options: SolveOptions = SolveOptions()
) throws -> EnsembleSolution<Reduced>? where F.Parameters: Sendable, F.State.Scalar == Double {
    try solve(
        ensemble, backend, trajectories: trajectories, batchSize: batchSize, maxReruns: maxReruns,
        solver: { problem in try algorithm.solve(problem, options: options) })
}
