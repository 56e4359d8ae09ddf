import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting
#if canImport(Glibc)
import Glibc
#endif

/// Shared fixtures for the AgentRTCore suites: runtimes with small limits (on a manual clock for
/// every timing test), native-thread races, gates agents block on, and readers of a user's stream.
///
/// Timing rule of these suites: time that matters (deadlines, grace periods, heartbeats,
/// admission waits, idle expiry) is the runtime's clock, moved by the test with
/// `rt.advance(clock, by:)`. Real time only bounds waits for another thread to reach a point.
enum CoreTestKit {
    /// A runtime with quiet logs and little spinning (tests run many runtimes side by side).
    /// The idle sweeper is off unless a test turns it on: its timing is not what most tests are
    /// about (SessionTests and SessionRegressionTests test it on a manual clock).
    static func runtime(clock: any RuntimeClock = SystemClock(),
                        _ configure: (inout Runtime.Configuration) -> Void = { _ in }) -> Runtime {
        var c = Runtime.Configuration()
        c.logLevel = 5
        c.callerSpinIterations = 0
        c.workerSpinIterations = 200
        c.initialWorkers = 2
        c.idleUserExpiry = nil
        configure(&c)
        return Runtime(configuration: c, clock: clock)
    }

    /// A runtime on a fresh manual clock: nothing times out until the test advances the clock.
    static func manualRuntime(_ configure: (inout Runtime.Configuration) -> Void = { _ in }) -> (Runtime, ManualClock) {
        let clock = ManualClock()
        return (runtime(clock: clock, configure), clock)
    }

    /// Registers a closure agent as `plugin.name`.
    static func agent(_ runtime: Runtime, _ name: String, plugin: String = "t",
                      threadSafe: Bool = true,
                      _ body: @escaping @Sendable (AgentCall, String) -> HostStatus) throws {
        try runtime.register(agent: AgentDescriptor(plugin: plugin, name: name, threadSafe: threadSafe),
                             implementation: ClosureAgent(body))
    }

    /// Every event still in `user`'s replay buffer, oldest first.
    static func events(_ runtime: Runtime, user: String) -> [Event] {
        let stream = runtime.events.stream(for: user)
        var out: [Event] = []
        var cursor: UInt64 = 1
        while true {
            switch stream.read(from: cursor) {
            case .nothing: return out
            case .events(let es, let next): out += es; cursor = next
            case .gap(_, _, let next): cursor = next
            }
        }
    }

    /// The events of one run (events of its tool calls included: they carry the run's id or its
    /// id as parent).
    static func events(_ runtime: Runtime, user: String, run: String) -> [Event] {
        events(runtime, user: user).filter { $0.runID == run || $0.parentRunID == run }
    }

    /// Runs `body(i)` on `count` native threads released together; returns when all finished.
    /// Suspends the calling task (no cooperative thread is blocked while the threads run).
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
        let ready = Shared<Int>(0)
        let finished = Shared<Int>(0)
        let threads = Locked<[NativeThread]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let resume = Locked<CheckedContinuation<Void, Never>?>(done)
            for i in 0..<count {
                let t = NativeThread(name: "test-\(i)") {
                    ready.add(1, ordering: .acquiringAndReleasing)
                    while ready.load(ordering: .acquiring) < count { sched_yield() }
                    body(i)
                    if finished.add(1, ordering: .acquiringAndReleasing).newValue == count {
                        resume.withLock { $0.take() }?.resume()
                    }
                }
                threads.withLock { $0.append(t) }
            }
        }
        for t in threads.withLock({ $0 }) { t.join() }
    }

    /// Polls `condition` every millisecond for at most `timeout` (a generous bound for another
    /// thread to get somewhere, never a measurement); true once it held.
    static func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = MonotonicTime.nanos() &+ timeout.nanoseconds
        while MonotonicTime.nanos() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    /// Sleeps the calling (native) thread.
    static func sleep(ms: Int) { usleep(useconds_t(ms * 1000)) }

    /// Blocks the calling native thread until `condition` holds (polling every 0.2 ms) or `max`
    /// real time passed; true once it held. For agents and helper threads waiting for a point.
    @discardableResult
    static func blockUntil(max: Duration = .seconds(30), _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicTime.nanos() &+ max.nanoseconds
        while !condition() {
            if MonotonicTime.nanos() >= deadline { return false }
            usleep(200)
        }
        return true
    }

    /// An agent's cooperative wait: returns once its context is cancelled (true) or after `max`
    /// real time as a safety net for a failing test (false).
    @discardableResult
    static func waitForCancellation(_ call: AgentCall, max: Duration = .seconds(30)) -> Bool {
        blockUntil(max: max) { call.context.isCancelled }
    }

    /// `text` with its first letter upper-cased ("Null").
    static func capitalized(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    /// The JSON `data` of an event as an object.
    static func data(_ e: Event) -> JSONObject { e.data.objectValue ?? JSONObject() }
}

/// A one-shot gate native threads wait on (with a cap so a failing test cannot hang a worker).
final class TestGate: @unchecked Sendable {
    private let lock = Lock()
    private let cond = ConditionVariable()
    private var open = false
    private let arrivals = Atomic<Int>(0)

    /// Callers that reached `wait` so far.
    var arrived: Int { arrivals.load(ordering: .acquiring) }

    /// Waits until opened or `max` passed (a safety net so a failing test cannot hang a worker
    /// forever; tests always release their gates); true if opened.
    @discardableResult
    func wait(max: Duration = .seconds(30), orCancelled call: AgentCall? = nil) -> Bool {
        arrivals.add(1, ordering: .acquiringAndReleasing)
        let deadline = MonotonicTime.nanos() &+ max.nanoseconds
        lock.lock()
        defer { lock.unlock() }
        while !open {
            if let call, call.context.isCancelled { return false }
            let now = MonotonicTime.nanos()
            if now >= deadline { return false }
            // Short slices so a cancelled call is noticed promptly.
            cond.wait(lock, untilNanos: min(deadline, now &+ 2_000_000))
        }
        return true
    }

    func release() {
        lock.withLock { open = true }
        cond.broadcast()
    }

    /// Whether `release` was called.
    var isOpen: Bool { lock.withLock { open } }
}

/// A blocking job on its own native thread (a `runBlocking`, `callTool` or `shutdown` the test
/// must not block its own task with), whose value the test awaits.
final class Background<T: Sendable>: Sendable {
    private let result: Box<T>
    private let finished: Shared<Bool>
    private let thread: NativeThread

    init(_ name: String = "test-background", _ body: @escaping @Sendable () -> T) {
        let result = Box<T>(), finished = Shared<Bool>(false)
        self.result = result
        self.finished = finished
        thread = NativeThread(name: name) {
            result.value = body()
            finished.store(true)
        }
    }

    /// True once the job returned.
    var isDone: Bool { finished.load() }

    /// The job's value once it returned (nil if it did not within `timeout`).
    func value(_ timeout: Duration = .seconds(30)) async -> T? {
        guard await CoreTestKit.eventually(timeout, { isDone }) else { return nil }
        thread.join()
        return result.value
    }

    deinit { thread.detach() }
}

/// Tracks how many callers are inside a section at once, and the most ever seen.
final class ConcurrencyProbe: Sendable {
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    var maxSeen: Int { peak.load(ordering: .acquiring) }
    var inside: Int { current.load(ordering: .acquiring) }

    func enter() {
        let now = current.add(1, ordering: .acquiringAndReleasing).newValue
        var seen = peak.load(ordering: .acquiring)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .acquiringAndReleasing)
            if exchanged { break }
            seen = original
        }
    }

    func leave() { current.subtract(1, ordering: .acquiringAndReleasing) }
}

/// A thread-safe list for recording from many threads.
final class Recorder<T: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    private var items: [T] = []
    func append(_ x: T) { lock.withLock { items.append(x) } }
    func removeAll() { lock.withLock { items.removeAll() } }
    var all: [T] { lock.withLock { items } }
    var count: Int { lock.withLock { items.count } }
}

/// Holds one value set later (for example an `AgentCall` captured by an agent).
final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    private var stored: T?
    init(_ v: T? = nil) { stored = v }
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// An atomic value that closures can share (a class, so `sending` closures may capture it).
/// Every operation is sequentially consistent; the `ordering` labels only mirror `Atomic`'s API.
final class Shared<V: AtomicRepresentable & Sendable>: Sendable {
    fileprivate let raw: Atomic<V>
    init(_ v: V) { raw = Atomic(v) }
}

extension Shared where V == Int {
    func load(ordering _: AtomicLoadOrdering = .sequentiallyConsistent) -> Int { raw.load(ordering: .sequentiallyConsistent) }
    func store(_ v: Int, ordering _: AtomicStoreOrdering = .sequentiallyConsistent) { raw.store(v, ordering: .sequentiallyConsistent) }
    @discardableResult
    func add(_ n: Int, ordering _: AtomicUpdateOrdering = .sequentiallyConsistent) -> (oldValue: Int, newValue: Int) {
        raw.add(n, ordering: .sequentiallyConsistent)
    }
}

extension Shared where V == Bool {
    func load(ordering _: AtomicLoadOrdering = .sequentiallyConsistent) -> Bool { raw.load(ordering: .sequentiallyConsistent) }
    func store(_ v: Bool, ordering _: AtomicStoreOrdering = .sequentiallyConsistent) { raw.store(v, ordering: .sequentiallyConsistent) }
}

extension Shared where V == UInt64 {
    func load(ordering _: AtomicLoadOrdering = .sequentiallyConsistent) -> UInt64 { raw.load(ordering: .sequentiallyConsistent) }
    func store(_ v: UInt64, ordering _: AtomicStoreOrdering = .sequentiallyConsistent) { raw.store(v, ordering: .sequentiallyConsistent) }
}
