// Buffers for evaluation and pullback, made once and reused so that neither allocates.

/// The intermediate values of a forward pass and the adjoints of a pullback, for batches of up
/// to ``capacity`` columns. Make it once with ``Chain/makeWorkspace()`` or
/// ``Chain/makeWorkspace(batchCapacity:)`` and pass it to every call; `forward` leaves in it what
/// `pullback` needs, so a pullback uses the values of the latest forward pass.
///
/// A workspace is a value: copies are independent (one per thread).
public struct NetworkWorkspace<Scalar: NetworkScalar>: Sendable {
    /// The largest batch (number of columns) it holds.
    public let capacity: Int
    @usableFromInline internal var values: [Scalar]
    @usableFromInline internal var adjoints: [Scalar]
    /// Columns of the latest forward pass; 0 before the first.
    @usableFromInline internal var columns: Int = 0
    @usableFromInline internal let totalWidth: Int

    @usableFromInline
    internal init(capacity: Int, totalWidth: Int) {
        self.capacity = capacity
        self.totalWidth = totalWidth
        values = [Scalar](repeating: 0, count: capacity * totalWidth)
        adjoints = [Scalar](repeating: 0, count: capacity * totalWidth)
    }
}

extension Chain {
    /// A workspace for one vector at a time.
    public func makeWorkspace() -> NetworkWorkspace<Scalar> {
        NetworkWorkspace(capacity: 1, totalWidth: totalWidth)
    }

    /// A workspace for batches of up to `batchCapacity` columns. Allocates
    /// `2 * batchCapacity * (sum of the widths of every intermediate vector)` scalars.
    public func makeWorkspace(batchCapacity: Int) throws(NetworkError) -> NetworkWorkspace<Scalar> {
        guard batchCapacity > 0, batchCapacity <= Int(Int32.max) else {
            throw .invalidSize(what: "batchCapacity", value: batchCapacity)
        }
        let (count, overflow) = batchCapacity.multipliedReportingOverflow(by: totalWidth)
        guard !overflow, count <= Int(Int32.max) else {
            throw .invalidSize(what: "batchCapacity", value: batchCapacity)
        }
        return NetworkWorkspace(capacity: batchCapacity, totalWidth: totalWidth)
    }
}
