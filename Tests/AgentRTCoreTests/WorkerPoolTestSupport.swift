import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

// Support for WorkerPoolTests: items that record what happened to them, thread identities that
// are never reused, burst barriers, and the C fixture plugin that abuses its thread.

/// An item running `body`, counting its runs and its thread-exit notices.
final class ProbeItem: WorkItem {
    let body: @Sendable () -> Void
    private let runCount = Atomic<Int>(0)
    private let exitCount = Atomic<Int>(0)
    private let runThread = Atomic<Int>(0)
    private let noticeThread = Atomic<Int>(0)

    init(_ body: @escaping @Sendable () -> Void = {}) { self.body = body }

    var runs: Int { runCount.load(ordering: .acquiring) }
    var exitNotices: Int { exitCount.load(ordering: .acquiring) }
    /// `ThreadIdentity` of the worker that ran it and of the one that told it its worker died.
    var ranOn: Int { runThread.load(ordering: .acquiring) }
    var notifiedOn: Int { noticeThread.load(ordering: .acquiring) }

    func runOnWorker() {
        runThread.store(ThreadIdentity.current, ordering: .releasing)
        runCount.add(1, ordering: .acquiringAndReleasing)
        body()
    }

    func workerThreadExited() {
        noticeThread.store(ThreadIdentity.current, ordering: .releasing)
        exitCount.add(1, ordering: .acquiringAndReleasing)
    }
}

/// A number per thread, never reused within the process (unlike pthread_t and kernel tids).
enum ThreadIdentity {
    private static let next = Atomic<Int>(1)
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Int {
        if let raw = pthread_getspecific(key) { return Int(bitPattern: raw) }
        let id = next.add(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: id))
        return id
    }
}

/// `size` items of one burst wait here until all of them started, or until `limit` passed
/// (a lost wake-up: one item never got a worker). Waits on a condition, not a sleep.
final class BurstBarrier: @unchecked Sendable {
    private let lock = Lock()
    private let cond = ConditionVariable()
    private let size: Int
    private var arrived = 0
    private var timedOut = false
    private var arrivedBeforeTimeOut = 0

    init(size: Int) { self.size = size }

    /// Called by each item; returns once the burst is complete or given up.
    func arriveAndWait(limit: Duration) {
        let deadline = MonotonicTime.nanos() &+ UInt64(limit.nanoseconds)
        lock.lock()
        defer { lock.unlock() }
        arrived += 1
        if arrived == size { cond.broadcast(); return }
        while arrived < size && !timedOut {
            if !cond.wait(lock, untilNanos: deadline) && MonotonicTime.nanos() >= deadline {
                timedOut = true
                arrivedBeforeTimeOut = arrived
                cond.broadcast()
            }
        }
    }

    /// Items that had started when the burst gave up.
    var startedBeforeTimeOut: Int { lock.withLock { arrivedBeforeTimeOut } }

    /// nil while the burst is in progress; true when every item started, false after a time-out
    /// (even if the missing items started later, once the waiting ones had freed their workers).
    var outcome: Bool? {
        lock.withLock { timedOut ? false : (arrived == size ? true : nil) }
    }
}

/// The C fixture plugin (`Tests/AgentRTNativeTests/Fixtures/pool/thread_abuse.c`), built with cc
/// into a temporary folder once per process and opened with dlopen.
struct ThreadAbuseFixture: @unchecked Sendable {
    typealias VoidFunction = @convention(c) () -> Void
    let exitThread: VoidFunction
    let cancelSelf: VoidFunction
    let dirtyThread: @convention(c) (Int32) -> Void
    let enabledTraps: @convention(c) () -> Int32
    let oneThird: @convention(c) () -> Double

    struct BuildError: Error, CustomStringConvertible { let description: String }

    private static let built = Locked<Task<ThreadAbuseFixture, any Error>?>(nil)

    static func load() async throws -> ThreadAbuseFixture {
        let task = built.withLock { slot -> Task<ThreadAbuseFixture, any Error> in
            if let t = slot { return t }
            let t = Task<ThreadAbuseFixture, any Error> { try await build() }
            slot = t
            return t
        }
        return try await task.value
    }

    private static func build() async throws -> ThreadAbuseFixture {
        // #filePath is <repository>/Tests/AgentRTCoreTests/WorkerPoolTestSupport.swift.
        let testsFolder = parent(parent(#filePath))
        let source = testsFolder + "/AgentRTNativeTests/Fixtures/pool/thread_abuse.c"
        let folder = "/tmp/agentrt-pool-fixture-\(getpid())"
        mkdir(folder, 0o700)
        let output = "\(folder)/libthread_abuse.so"
        let status = await run(["cc", "-std=c99", "-shared", "-fPIC", "-fvisibility=hidden", source, "-o", output, "-lm"])
        guard status == 0 else { throw BuildError(description: "cc failed (wait status \(status)) for \(source)") }
        guard let handle = dlopen(output, RTLD_NOW) else {
            throw BuildError(description: "dlopen \(output): \(String(cString: dlerror()))")
        }
        unlink(output)
        rmdir(folder)
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw BuildError(description: "missing \(name)") }
            return unsafeBitCast(p, to: T.self)
        }
        return ThreadAbuseFixture(exitThread: try symbol("pool_fixture_exit_thread", VoidFunction.self),
                                  cancelSelf: try symbol("pool_fixture_cancel_self", VoidFunction.self),
                                  dirtyThread: try symbol("pool_fixture_dirty_thread", (@convention(c) (Int32) -> Void).self),
                                  enabledTraps: try symbol("pool_fixture_enabled_traps", (@convention(c) () -> Int32).self),
                                  oneThird: try symbol("pool_fixture_one_third", (@convention(c) () -> Double).self))
    }

    /// Runs `argv` (PATH lookup) on a native thread and returns its wait status.
    private static func run(_ argv: [String]) async -> Int32 {
        await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            NativeThread(name: "fixture-cc") {
                var pid = pid_t()
                let cArgs = argv.map { strdup($0) } + [nil]
                defer { for a in cArgs { free(a) } }
                var rc = posix_spawnp(&pid, argv[0], nil, nil, cArgs, environ)
                var status: Int32 = -1
                if rc == 0 {
                    repeat { rc = waitpid(pid, &status, 0) } while rc < 0 && errno == EINTR
                }
                done.resume(returning: rc < 0 ? -1 : status)
            }.detach()
        }
    }
}

/// `path` without its last component.
private func parent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return String(path[..<slash])
}

/// 1.0 / 3.0 computed at run time (a literal division would be folded at compile time).
@inline(never) @_optimize(none)
func oneThirdAtRunTime() -> Double {
    var one = 1.0
    var three = 3.0
    withUnsafeMutablePointer(to: &one) { _ in }
    withUnsafeMutablePointer(to: &three) { _ in }
    return one / three
}
