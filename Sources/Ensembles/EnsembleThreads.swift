import Dispatch
import Foundation
import Synchronization

/// The trajectories of each batch on a fixed pool of `threads` threads (the calling thread and
/// `threads - 1` workers started once per ensemble solve), with work stealing: each thread starts
/// on its own contiguous share of the batch and, when it runs dry, takes the back half of the
/// largest share left. Outcomes are put back in trajectory order, so the result has the bits of
/// ``EnsembleSerial`` for any thread count.
///
/// Performance: trajectories are taken one at a time under one lock for the whole pool (a few
/// tens of nanoseconds against the microseconds or more of a solve); stealing half of a share
/// keeps the number of steals logarithmic in the share size, so uneven trajectories (stiff ones
/// among non-stiff, reruns) balance without a central queue of every index.
///
/// ThreadSanitizer: every state shared between the pool's threads is inside a ``PThreadLock``
/// (the shares, the job, the hand-over of results), a POSIX mutex that TSan intercepts;
/// `Synchronization.Mutex`, used before, locks with a futex TSan cannot see and made every
/// threaded test report false races. The shutdown flag is an `Atomic` (instrumented). Checked
/// with `swift test --sanitize=thread --scratch-path .build-tsan --filter EnsemblesTests`: no
/// report (16 tests in 4 suites, Threads(1 ... 8) among them; 10 reports with the `Mutex`).
public struct EnsembleThreads: EnsembleAlgorithm {
    public let threads: Int

    /// `threads` defaults to the number of active processors.
    public init(_ threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.threads = threads
    }

    public func makeSession() throws(EnsembleError) -> ThreadSession {
        guard threads >= 1 else { throw .invalidArgument("EnsembleThreads needs at least 1 thread, got \(threads)") }
        return ThreadSession(threads: threads)
    }

    /// A pool of `threads - 1` worker threads plus the calling thread.
    public final class ThreadSession: EnsembleSession, Sendable {
        let threads: Int
        private let job = PThreadLock<(@Sendable (Int) -> Void)?>(nil)
        private let shuttingDown = Atomic<Bool>(false)
        private let wake: [DispatchSemaphore]
        private let done = DispatchSemaphore(value: 0)

        init(threads: Int) {
            self.threads = threads
            wake = (1..<max(threads, 1)).map { _ in DispatchSemaphore(value: 0) }
            for worker in 1..<max(threads, 1) {
                let thread = Thread { [self] in self.workerLoop(worker) }
                thread.name = "EnsembleThreads-\(worker)"
                // The main thread's 8 MiB, not a secondary thread's smaller default: a trajectory
                // runs the same solve as on the calling thread.
                thread.stackSize = 8 << 20
                thread.start()
            }
        }

        private func workerLoop(_ worker: Int) {
            while true {
                wake[worker - 1].wait()
                if shuttingDown.load(ordering: .acquiring) { return }
                let body = job.withLock { $0 }
                body?(worker)
                done.signal()
            }
        }

        /// Runs `body(worker)` on every thread of the pool and returns when all are done.
        private func runOnAll(_ body: @escaping @Sendable (Int) -> Void) {
            job.withLock { $0 = body }
            for w in wake { w.signal() }
            body(0)
            for _ in wake { done.wait() }
            job.withLock { $0 = nil }
        }

        public func map<T: Sendable>(_ indices: [Int], _ body: @escaping @Sendable (Int) -> T) -> [T] {
            let count = indices.count
            if threads == 1 || count <= 1 { return indices.map(body) }
            let shares = WorkShares(count: count, workers: threads)
            let collected = Collected<T>()
            runOnAll { worker in
                var local: [(Int, T)] = []
                while let position = shares.next(for: worker) {
                    local.append((position, body(indices[position])))
                }
                collected.lists.withLock { $0.append(local) }
            }
            var ordered = [T?](repeating: nil, count: count)
            collected.lists.withLock { lists in
                for list in lists { for (position, value) in list { ordered[position] = value } }
            }
            return ordered.map { $0! }
        }

        public func finish() {
            shuttingDown.store(true, ordering: .releasing)
            for w in wake { w.signal() }
        }
    }
}

/// Each worker's (position, result) pairs, handed over once per batch.
final class Collected<T: Sendable>: Sendable {
    let lists = PThreadLock<[[(Int, T)]]>([])
}

/// Positions `0 ..< count` split into one contiguous share per worker; a worker takes from the
/// front of its own share and, when it is empty, steals the back half of the largest share.
final class WorkShares: Sendable {
    private let shares: PThreadLock<[Range<Int>]>

    init(count: Int, workers: Int) {
        shares = PThreadLock((0..<workers).map { w in (w * count / workers)..<((w + 1) * count / workers) })
    }

    func next(for worker: Int) -> Int? {
        shares.withLock { shares in
            if shares[worker].isEmpty {
                var victim = worker
                for w in shares.indices where shares[w].count > shares[victim].count { victim = w }
                let available = shares[victim].count
                if available == 0 { return nil }
                let stolen = (available + 1) / 2
                let upper = shares[victim].upperBound
                shares[worker] = (upper - stolen)..<upper
                shares[victim] = shares[victim].lowerBound..<(upper - stolen)
            }
            let position = shares[worker].lowerBound
            shares[worker] = (position + 1)..<shares[worker].upperBound
            return position
        }
    }
}
