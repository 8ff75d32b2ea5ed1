#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a POSIX mutex: the lock of ``EnsembleThreads``' pool.
///
/// Why not `Synchronization.Mutex`: on Linux the standard library's `Mutex` locks with a futex
/// in the uninstrumented runtime, so ThreadSanitizer sees no happens-before between two holders
/// of the lock and reports every pair of their accesses as a race (a 4-task `Mutex<Int>` counter
/// of 40,000 increments ends at 40,000 and TSan still warns). TSan intercepts
/// `pthread_mutex_lock`/`unlock`, so with this lock a TSan run of the threaded ensembles checks
/// the pool's own synchronization instead of reporting the lock.
///
/// A class, so the `pthread_mutex_t` lives at one address for its whole life (POSIX forbids
/// moving or copying an initialized mutex); it is allocated once and destroyed in `deinit`.
/// `@unchecked Sendable`: `value` is read and written only inside ``withLock(_:)``, between
/// `pthread_mutex_lock` and `pthread_mutex_unlock`.
///
/// Performance: the pool takes the lock once per trajectory (and once per worker per batch),
/// against a solve of microseconds or more; an uncontended `pthread_mutex_lock` is an atomic
/// compare-and-swap without a system call, as the futex `Mutex` is.
final class PThreadLock<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // Default attributes: a normal, non-recursive mutex. Initialization fails only for lack
        // of memory or system resources, where nothing sensible can go on.
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with error \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the guarded value with the lock held.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
