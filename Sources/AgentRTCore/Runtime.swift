import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct AgentKey: Hashable {
    let plugin: String
    let name: String
}

/// A registered agent and its per-agent guard state.
final class AgentEntry: @unchecked Sendable {
    let descriptor: AgentDescriptor
    let implementation: any AgentImplementation
    let stats = CallStats()
    let shared: AgentInstance
    /// The agent's breaker once created (per-agent breakers only), to skip the map on each call.
    let cachedBreaker = Locked<CircuitBreaker?>(nil)

    init(descriptor: AgentDescriptor, implementation: any AgentImplementation) {
        self.descriptor = descriptor
        self.implementation = implementation
        self.shared = implementation.sharedInstance()
    }
}

/// The agent runtime: registry, guards, executor, tool dispatcher and event bus in one place.
/// Every face (CLI, C API, server) calls `run`/`runBlocking` and reads events from `events`.
public final class Runtime: @unchecked Sendable {
    /// Limits and defaults.
    public struct Configuration: Sendable {
        /// Calls one user may have in flight.
        public var perUserLimit = 4
        /// Calls in flight across all users.
        public var globalLimit = 1024
        /// How long a call may wait for admission (0: refuse at once with `overloaded`).
        public var admissionWait: Duration = .zero
        public var defaultTimeout: Duration = .seconds(30)
        /// Between the cooperative cancel at the deadline and abandonment.
        public var grace: Duration = .seconds(1)
        /// 0 disables heartbeat death detection unless a call asks for it.
        public var defaultHeartbeatTimeout: Duration = .zero
        public var breaker = CircuitBreaker.Config()
        /// One breaker per (user, agent) instead of per agent.
        public var breakerPerUser = false
        /// Abandoned-but-running calls an agent may have before new calls are refused.
        public var quarantineThreshold = 8
        public var replayCapacity = 1024
        /// Bytes of events kept per user for resume (each event counts `Event.replayBytes`: its
        /// strings and data plus a fixed overhead). The oldest are evicted until both this and
        /// `replayCapacity` hold; the newest event is always kept. Default 1 MiB per user.
        public var replayBytes = EventBus.defaultReplayBytes
        public var maxResultBytes = 16 << 20
        public var maxEventBytes = 1 << 20
        public var maxToolDepth = 8
        /// Default timeout of a tool call (capped by the caller's deadline).
        public var toolTimeout: Duration = .seconds(30)
        /// Caller and worker spin budgets (0 disables spinning).
        public var callerSpinIterations = 20_000
        public var workerSpinIterations = 20_000
        public var initialWorkers = 2
        public var maxWorkers = 1024
        /// Lowest log level written (0 trace … 4 error); 5 silences plugin logs.
        public var logLevel: Int32 = 3
        /// Users with no call for this long are removed (sessions closed) by a background
        /// sweeper; nil keeps them until `expireIdleUsers`/`removeUser` is called.
        public var idleUserExpiry: Duration? = nil
        public init() {}
    }

    public let configuration: Configuration
    public let events: EventBus
    public let tools: ToolDispatcher
    public let counters = RuntimeCounters()
    let clock: any RuntimeClock
    let pool: WorkerPool
    let watchdog = Watchdog()
    let users: UserRegistry
    let global: FairSemaphore
    private let lock = Lock()
    // Guarded by `lock`.
    private var agents: [AgentKey: AgentEntry] = [:]
    private var breakers: [String: CircuitBreaker] = [:]
    private var transitionListeners: [@Sendable (CircuitBreaker.Transition) -> Void] = []
    /// Called for every log line (defaults to stderr).
    public let logSink: Locked<(@Sendable (Int32, String) -> Void)?> = Locked(nil)

    public init(configuration: Configuration = Configuration(), clock: any RuntimeClock = SystemClock()) {
        self.configuration = configuration
        self.clock = clock
        self.events = EventBus(replayCapacity: configuration.replayCapacity, replayBytes: configuration.replayBytes)
        self.users = UserRegistry(perUserLimit: configuration.perUserLimit, events: events)
        self.global = FairSemaphore(limit: configuration.globalLimit)
        self.pool = WorkerPool(initialThreads: configuration.initialWorkers, maxThreads: configuration.maxWorkers,
                               spinIterations: configuration.workerSpinIterations)
        self.tools = ToolDispatcher()
        tools.runtime = self
        if let idle = configuration.idleUserExpiry {
            sweeper.withLock { $0 = IdleSweeper(runtime: self, idle: idle) }
        }
    }

    private let sweeper = Locked<IdleSweeper?>(nil)

    deinit { shutdown() }

    /// Set once `shutdown()` ran: new calls are refused with `cancelled`.
    let isShutDown = Atomic<Bool>(false)

    /// Stops the runtime: running calls are cancelled (and abandoned after the grace period),
    /// new calls are refused, the watchdog and idle workers stop. Idempotent; plugins stay mapped.
    public func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for u in users.all {
            for c in u.lock.withLock({ Array(u.inFlight.values) }) {
                c.context.cancel(.shutdown(reason: "the runtime shut down"))
            }
        }
        sweeper.withLock { $0 }?.stop()
        watchdog.stop()
        pool.shutdown()
    }

    // MARK: registry

    /// Registers an agent under `plugin.name`.
    public func register(agent: AgentDescriptor, implementation: any AgentImplementation) throws(AgentRTError) {
        if let why = NameRules.checkAgentOrPluginName(agent.plugin) { throw AgentRTError(.internal, "plugin name \"\(agent.plugin)\" \(why)") }
        if let why = NameRules.checkAgentOrPluginName(agent.name) { throw AgentRTError(.internal, "agent name \"\(agent.name)\" \(why)") }
        try lock.withLock { () throws(AgentRTError) in
            let key = AgentKey(plugin: agent.plugin, name: agent.name)
            if agents[key] != nil {
                throw AgentRTError(.internal, "an agent named \(agent.qualifiedName) is already registered")
            }
            agents[key] = AgentEntry(descriptor: agent, implementation: implementation)
        }
    }

    /// Every registered agent.
    public var agentDescriptors: [AgentDescriptor] {
        lock.withLock { agents.values.map(\.descriptor) }.sorted { $0.qualifiedName < $1.qualifiedName }
    }

    func entry(_ plugin: String, _ name: String) -> AgentEntry? {
        let key = AgentKey(plugin: plugin, name: name)
        return lock.withLock { agents[key] }
    }

    /// Callers currently spinning for an outcome (at most one spins; the rest park at once, so
    /// spinning never starves the workers of a small machine).
    let spinningCallers = Atomic<Int>(0)

    /// Observes every circuit-breaker transition (published once each, in order, outside locks).
    public func onBreakerTransition(_ body: @escaping @Sendable (CircuitBreaker.Transition) -> Void) {
        lock.withLock { transitionListeners.append(body) }
    }

    func breaker(for key: String) -> CircuitBreaker {
        lock.withLock {
            if let b = breakers[key] { return b }
            let b = CircuitBreaker(key: key, config: configuration.breaker, clock: clock)
            breakers[key] = b
            return b
        }
    }

    /// The breaker guarding `plugin.agent` (and `user` when breakers are per user).
    public func breaker(plugin: String, agent: String, user: String? = nil) -> CircuitBreaker {
        breaker(for: breakerKey(plugin: plugin, agent: agent, user: user))
    }

    func breakerKey(plugin: String, agent: String, user: String?) -> String {
        configuration.breakerPerUser && user != nil ? "\(plugin).\(agent)@\(user!)" : "\(plugin).\(agent)"
    }

    /// Operator control of a breaker (FORCED_OPEN, DISABLED, CLOSED).
    public func forceBreaker(plugin: String, agent: String, user: String? = nil, to state: CircuitBreaker.State) {
        let t = breaker(plugin: plugin, agent: agent, user: user).force(state)
        publish(t, userID: user)
    }

    func publish(_ transitions: [CircuitBreaker.Transition], userID: String?) {
        guard !transitions.isEmpty else { return }
        let listeners = lock.withLock { transitionListeners }
        for t in transitions {
            for l in listeners { l(t) }
            guard let userID else { continue }
            var w = JSONObjectWriter()
            w.string("key", t.key)
            w.string("from", t.from.rawValue)
            w.string("to", t.to.rawValue)
            w.double("failure_rate", t.failureRate)
            if let r = t.retryAtNanos { w.int("retry_at", wallMillis(fromMonotonic: r)) } else { w.null("retry_at") }
            let parts = t.key.split(separator: "@").first.map(String.init) ?? t.key
            let dot = parts.firstIndex(of: ".")
            events.publish(Event(kind: .circuitStateChanged, userID: userID, sessionID: "", runID: "",
                                 plugin: dot.map { String(parts[..<$0]) } ?? parts,
                                 agent: dot.map { String(parts[parts.index(after: $0)...]) } ?? "",
                                 dataJSON: w.finish()))
        }
    }

    func wallMillis(fromMonotonic t: UInt64) -> Int64 {
        let now = clock.nowNanos()
        let delta = Int64(bitPattern: t &- now) / 1_000_000
        return MonotonicTime.wallMillis() + delta
    }

    // MARK: logging

    func log(level: Int32, _ line: String) {
        guard level >= configuration.logLevel else { return }
        if let sink = logSink.withLock({ $0 }) { sink(level, line); return }
        let names = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
        let text = "agentrt \(names[Int(min(max(level, 0), 4))]): \(line)\n"
        var t = text
        t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
