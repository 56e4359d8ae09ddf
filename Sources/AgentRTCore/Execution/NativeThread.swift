#if canImport(Glibc)
import Glibc
#endif

/// A dedicated OS thread (never a Swift cooperative-pool thread) running one closure.
public final class NativeThread: @unchecked Sendable {
    private var tid = pthread_t()
    // The body is NOT stored here, only in the box handed to the thread (released when it
    // returns): owners keep their thread and the body captures the owner, so storing it would
    // be a cycle that is never broken (it leaked every subscription, stream and watchdog).
    private let joinLock = Lock()
    private var joined = false

    private final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }

    /// Starts the thread at once.
    public init(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, stackSize)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&tid, &attr, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    /// Whether the caller is this thread.
    public var isCurrent: Bool { pthread_equal(pthread_self(), tid) != 0 }

    /// Waits for the thread to finish (once; later calls return at once).
    public func join() {
        let shouldJoin = joinLock.withLock { () -> Bool in
            if joined { return false }
            joined = true
            return true
        }
        if shouldJoin { pthread_join(tid, nil) }
    }

    /// Lets the thread finish on its own without a join.
    public func detach() {
        let shouldDetach = joinLock.withLock { () -> Bool in
            if joined { return false }
            joined = true
            return true
        }
        if shouldDetach { pthread_detach(tid) }
    }
}
