#if canImport(Glibc)
import Glibc
#endif

/// A dedicated OS thread (never a Swift cooperative-pool thread) running one closure.
public final class NativeThread: @unchecked Sendable {
    private var tid = pthread_t()
    private let joinLock = Lock()
    private var joined = false

    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts the thread at once; traps if the system refuses a thread.
    public convenience init(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        let (tid, rc) = Self.launch(name: name, stackSize: stackSize, body)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        self.init(tid: tid)
    }

    private init(tid: pthread_t) { self.tid = tid }

    /// Starts a thread, or returns nil when the system refuses one (thread or memory limits),
    /// for callers that can carry on without it.
    public static func start(name: String, stackSize: Int = 1 << 20,
                             _ body: @escaping @Sendable () -> Void) -> NativeThread? {
        let (tid, rc) = launch(name: name, stackSize: stackSize, body)
        return rc == 0 ? NativeThread(tid: tid) : nil
    }

    /// `name` is not applied (Glibc's pthread_setname_np is not visible to Swift); it documents
    /// the thread at the call site.
    private static func launch(name: String, stackSize: Int, _ body: @escaping @Sendable () -> Void)
        -> (pthread_t, Int32) {
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, stackSize)
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        let rc = pthread_create(&tid, &attr, { arg in
            let s = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            s.body()
            return nil
        }, start)
        pthread_attr_destroy(&attr)
        if rc != 0 { Unmanaged<Start>.fromOpaque(start).release() }
        return (tid, rc)
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
