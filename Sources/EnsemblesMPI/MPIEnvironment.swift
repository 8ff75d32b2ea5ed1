import CMPIShim

/// An MPI call that returned an error code (every communicator used here has
/// `MPI_ERRORS_RETURN`, so errors come back as codes instead of aborting the job).
public struct MPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The MPI error code (`MPI_SUCCESS` is never one), or -1 for a misuse found before any call.
    public let code: Int32
    /// The call that failed.
    public let call: String
    /// `MPI_Error_string`'s text, or the misuse.
    public let message: String

    public var description: String { "\(call) failed (\(code)): \(message)" }

    init(code: Int32, call: String) {
        self.code = code
        self.call = call
        var length: Int32 = 0
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        if MPI_Error_string(code, &buffer, &length) == cmpi_success() {
            message = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            message = "unknown MPI error"
        }
    }

    init(misuse: String, call: String) {
        code = -1
        self.call = call
        message = misuse
    }
}

@inline(__always)
func check(_ code: Int32, _ call: String) throws(MPIError) {
    if code != cmpi_success() { throw MPIError(code: code, call: call) }
}

/// MPI for this process: `MPI_Init_thread` on creation, `MPI_Finalize` in ``finalize()``.
/// Under `mpirun -np N` each process is one rank of `N`; started on its own, the process is
/// rank 0 of 1 (MPI's singleton start), so the same program runs both ways.
///
/// ```swift
/// let mpi = try MPIEnvironment()
/// defer { try? mpi.finalize() }
/// let sim = try solve(ensemble, Tsit5(), EnsembleMPI(mpi.world), trajectories: 1000)
/// if let sim { print(sim.u.count) }   // on the rank that holds the result
/// ```
///
/// MPI may be initialized once per process. The thread level asked for is `MPI_THREAD_FUNNELED`:
/// only the thread that created the environment calls MPI (`EnsembleMPI` with several threads
/// per rank runs trajectories on worker threads but communicates from the calling thread).
public final class MPIEnvironment {
    /// `MPI_COMM_WORLD`, with `MPI_ERRORS_RETURN`.
    public let world: MPICommunicator
    private var finalized = false

    public init() throws(MPIError) {
        var initialized: Int32 = 0
        try check(MPI_Initialized(&initialized), "MPI_Initialized")
        guard initialized == 0 else {
            throw MPIError(misuse: "MPI is already initialized in this process (one MPIEnvironment per process)", call: "MPI_Init_thread")
        }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
        guard let comm = cmpi_comm_world() else { throw MPIError(misuse: "MPI_COMM_WORLD is null", call: "MPI_Init_thread") }
        try check(cmpi_set_errors_return(comm), "MPI_Comm_set_errhandler")
        world = try MPICommunicator(comm)
    }

    /// Ends MPI for this process; call it once, after the last communication.
    public func finalize() throws(MPIError) {
        guard !finalized else { return }
        finalized = true
        try check(MPI_Finalize(), "MPI_Finalize")
    }
}

/// A communicator: its rank and size, and the collectives the ensembles use (byte messages,
/// fixed-order sums). Used from the thread that created the ``MPIEnvironment``.
public struct MPICommunicator {
    @usableFromInline let comm: MPI_Comm
    /// This process's rank, `0 ..< size`.
    public let rank: Int
    public let size: Int

    init(_ comm: MPI_Comm) throws(MPIError) {
        self.comm = comm
        var r: Int32 = 0
        var s: Int32 = 0
        try check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    public func barrier() throws(MPIError) {
        try check(MPI_Barrier(comm), "MPI_Barrier")
    }

    private func count(_ n: Int, _ call: String) throws(MPIError) -> Int32 {
        guard let c = Int32(exactly: n) else {
            throw MPIError(misuse: "a message of \(n) bytes exceeds MPI's Int32 counts", call: call)
        }
        return c
    }

    /// Every rank's message length, on every rank: gathered as 64-bit counts so that a message
    /// too long for MPI's `int` counts is refused by every rank alike (one rank throwing while the
    /// others enter the next collective would hang the job).
    private func lengths(_ bytes: [UInt8], _ call: String) throws(MPIError) -> [Int32] {
        var mine = Int64(bytes.count)
        var all = [Int64](repeating: 0, count: size)
        try check(MPI_Allgather(&mine, 1, cmpi_uint64(), &all, 1, cmpi_uint64(), comm), "MPI_Allgather")
        guard all.reduce(0, +) <= Int64(Int32.max) else {
            throw MPIError(misuse: "messages of \(all) bytes exceed MPI's Int32 counts: keep less per trajectory", call: call)
        }
        return all.map { Int32($0) }
    }

    /// Every rank's bytes, on every rank, in rank order (`MPI_Allgather` of the lengths, then
    /// `MPI_Allgatherv`).
    public func allGather(_ bytes: [UInt8]) throws(MPIError) -> [[UInt8]] {
        let counts = try lengths(bytes, "MPI_Allgatherv")
        let displacements = offsets(counts)
        var all = [UInt8](repeating: 0, count: counts.reduce(0) { $0 + Int($1) })
        var send = bytes
        try check(
            MPI_Allgatherv(&send, counts[rank], cmpi_byte(), &all, counts, displacements, cmpi_byte(), comm), "MPI_Allgatherv")
        return split(all, counts, displacements)
    }

    /// Every rank's bytes on `root`, in rank order; `nil` on the other ranks (`MPI_Gatherv`).
    public func gather(_ bytes: [UInt8], root: Int) throws(MPIError) -> [[UInt8]]? {
        let counts = try lengths(bytes, "MPI_Gatherv")
        let displacements = offsets(counts)
        var all = [UInt8](repeating: 0, count: rank == root ? counts.reduce(0) { $0 + Int($1) } : 0)
        var send = bytes
        try check(
            MPI_Gatherv(&send, counts[rank], cmpi_byte(), &all, counts, displacements, cmpi_byte(), Int32(root), comm), "MPI_Gatherv")
        return rank == root ? split(all, counts, displacements) : nil
    }

    /// `root`'s bytes on every rank (`MPI_Bcast` of the length, then of the bytes).
    public func broadcast(_ bytes: [UInt8], root: Int) throws(MPIError) -> [UInt8] {
        var length = Int64(bytes.count)
        try check(MPI_Bcast(&length, 1, cmpi_uint64(), Int32(root), comm), "MPI_Bcast")
        // Every rank sees the same length, so every rank refuses a message too long alike.
        guard length <= Int64(Int32.max) else {
            throw MPIError(misuse: "a message of \(length) bytes exceeds MPI's Int32 counts", call: "MPI_Bcast")
        }
        var data = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        try check(MPI_Bcast(&data, Int32(length), cmpi_byte(), Int32(root), comm), "MPI_Bcast")
        return data
    }

    /// `Σ_ranks values` on every rank, added in rank order (0, 1, 2, ...) whatever MPI's
    /// reduction tree: the vectors are gathered everywhere and summed locally, so the bits do
    /// not depend on the MPI library's algorithm. (`MPI_Allreduce` with `MPI_SUM` may add in
    /// any order; its bits can change with the rank count and the library's choice.)
    public func allReduceSumInRankOrder(_ values: [Double]) throws(MPIError) -> [Double] {
        var buffer = MPIBuffer()
        values.encode(to: &buffer)
        var total = [Double](repeating: 0, count: values.count)
        for (r, bytes) in try allGather(buffer.bytes).enumerated() {
            var reader = MPIReader(bytes)
            let part = try [Double](from: &reader)
            guard part.count == total.count else {
                throw MPIError(misuse: "rank \(r) sent \(part.count) values, this rank \(total.count)", call: "allReduceSumInRankOrder")
            }
            for k in total.indices { total[k] += part[k] }
        }
        return total
    }

    /// `MPI_Allreduce` with `MPI_SUM`: one message of the vector's size, in MPI's own order
    /// (not bitwise reproducible across rank counts; see ``allReduceSumInRankOrder(_:)``).
    public func allReduceSum(_ values: [Double]) throws(MPIError) -> [Double] {
        var send = values
        var result = [Double](repeating: 0, count: values.count)
        let n = try count(values.count, "MPI_Allreduce")
        try check(MPI_Allreduce(&send, &result, n, cmpi_double(), cmpi_op_sum(), comm), "MPI_Allreduce")
        return result
    }

    /// Where each rank's bytes start; the total fits in `Int32` (checked by ``lengths(_:_:)``).
    private func offsets(_ counts: [Int32]) -> [Int32] {
        var displacements = [Int32](repeating: 0, count: counts.count)
        var total: Int32 = 0
        for r in counts.indices {
            displacements[r] = total
            total += counts[r]
        }
        return displacements
    }

    private func split(_ all: [UInt8], _ counts: [Int32], _ displacements: [Int32]) -> [[UInt8]] {
        counts.indices.map { r in Array(all[Int(displacements[r])..<Int(displacements[r]) + Int(counts[r])]) }
    }
}
