@testable import Ensembles
import Testing

/// The pool's lock (``PThreadLock``): four tasks adding 10,000 each end at 40,000. Under
/// ThreadSanitizer (`swift test --sanitize=thread --scratch-path .build-tsan --filter
/// PThreadLockTests`) this runs without a report, where the same counter in a
/// `Synchronization.Mutex<Int>` gives the right total and TSan reports a race on Linux.
@Suite struct PThreadLockTests {
    @Test func concurrentIncrementsAreSerialized() async {
        let counter = PThreadLock(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
                }
            }
        }
        #expect(counter.withLock { $0 } == 40_000)
    }

    /// `withLock` passes the body's result and error through and releases the lock on a throw
    /// (a second `withLock` after the throw would deadlock otherwise).
    @Test func resultAndErrorPassThrough() {
        struct Failure: Error {}
        let lock = PThreadLock([1, 2, 3])
        #expect(lock.withLock { $0.reduce(0, +) } == 6)
        #expect(throws: Failure.self) { try lock.withLock { _ in throw Failure() } }
        #expect(lock.withLock { values in values.append(4); return values.count } == 4)
    }
}
