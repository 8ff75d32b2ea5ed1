/// Where the trajectories of a batch run, on this process: ``EnsembleSerial`` or
/// ``EnsembleThreads``. (`EnsembleMPI`, in the `EnsemblesMPI` module, spreads them over processes
/// and uses one of these within each.)
///
/// A back end never changes a result: outcomes come back in the order of the indices given, and
/// the fold runs on the calling thread.
public protocol EnsembleAlgorithm: Sendable {
    associatedtype Session: EnsembleSession
    /// The state kept for one ensemble solve (a thread pool), ended by ``EnsembleSession/finish()``.
    func makeSession() throws(EnsembleError) -> Session
}

/// One ensemble solve's workers.
public protocol EnsembleSession {
    /// `body(i)` for every `i` in `indices`, results in the order of `indices`.
    func map<T: Sendable>(_ indices: [Int], _ body: @escaping @Sendable (Int) -> T) -> [T]
    /// Releases the workers; called once, after the last batch.
    func finish()
}

/// Every trajectory on the calling thread, in order.
public struct EnsembleSerial: EnsembleAlgorithm {
    public init() {}

    public func makeSession() -> SerialSession { SerialSession() }

    public struct SerialSession: EnsembleSession {
        public func map<T: Sendable>(_ indices: [Int], _ body: @escaping @Sendable (Int) -> T) -> [T] {
            indices.map(body)
        }
        public func finish() {}
    }
}
