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
    /// `plugin.agent`, formatted once (it keys the per-user tables on every call).
    let qualifiedName: String
    /// The agent-wide breaker, the runtime's for this name (no lookup per call).
    let breaker: CircuitBreaker
    /// The implementation's answers, read once (reading an existential member copies it).
    let isProcessIsolated: Bool
    let hasSessionHooks: Bool
    /// Declared prompt and in-process: its calls run on the calling thread unless the caller
    /// asks for a hand-off.
    let runsInline: Bool
    /// … and thread-safe, for the async `run`: a call of an agent that is not may queue behind
    /// its instance's gate and resume on a worker, which must not hold a cooperative thread.
    let runsInlineAsync: Bool
    /// The compiled input schema: every input is validated before the agent runs.
    let inputSchema: JSONSchema?

    init(descriptor: AgentDescriptor, implementation: any AgentImplementation,
         breaker: CircuitBreaker) throws(AgentRTError) {
        self.descriptor = descriptor
        self.implementation = implementation
        self.qualifiedName = descriptor.qualifiedName
        self.breaker = breaker
        self.isProcessIsolated = implementation.isolation == .process
        self.hasSessionHooks = implementation.hasSessionHooks
        self.runsInline = descriptor.returnsPromptly && !isProcessIsolated
        self.runsInlineAsync = runsInline && descriptor.threadSafe
        self.shared = implementation.sharedInstance()
        if let s = descriptor.inputSchema {
            do { inputSchema = try JSONSchema(s) } catch {
                throw AgentRTError(.badArguments, "agent \(descriptor.qualifiedName) has an unusable input schema: \(error)")
            }
        } else {
            inputSchema = nil
        }
    }
}

/// Where a synchronous call (`runBlocking`, `agentrt_run`) runs an in-process agent.
///
/// - `handOff` (default): on a runtime worker; the caller waits. A call that ignores its
///   deadline is abandoned at deadline + grace and the caller gets its outcome then, while the
///   code keeps its worker (a zombie).
/// - `callerThread`: on the caller's own thread, which is blocked anyway: no hand-off, the
///   fastest guarded call. Every guard still applies (admission, breakers, deadline and
///   cooperative cancellation, heartbeats, events, the outcome rules, thread-state restore);
///   what changes is abandonment: a call that ignores its deadline still gets its outcome
///   decided and published at deadline + grace, but the caller's thread returns only when the
///   code does. Use it for agents that return promptly, or per call (`RunRequest.onCallerThread`,
///   `AGENTRT_RUN_ON_CALLER_THREAD`). Isolated plugins always run this way (a kill replaces
///   abandonment).
public enum SynchronousExecution: String, Sendable {
    case handOff = "hand-off"
    case callerThread = "caller-thread"
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
        /// Every (agent, user) has its own breaker with this config (one user's failures open
        /// only theirs); each agent also has an agent-wide breaker with this config that opens
        /// only when the failures in its window come from `agentBreakerMinimumUsers` users.
        public var breaker = CircuitBreaker.Config()
        /// Distinct failing users before an agent-wide breaker may open.
        public var agentBreakerMinimumUsers = 3
        /// Abandoned-but-running calls of an agent one user may have; past it that user (only)
        /// is refused the agent with `quarantined` until one returns.
        public var userQuarantineThreshold = 2
        /// Abandoned-but-running calls an agent may have across all users before every new call
        /// is refused (`quarantined`).
        public var quarantineThreshold = 32
        public var replayCapacity = 1024
        /// Bytes of events kept per user for resume (each event counts `Event.replayBytes`: its
        /// strings and data plus a fixed overhead). The oldest are evicted until both this and
        /// `replayCapacity` hold; the newest event is always kept. Default 1 MiB per user.
        public var replayBytes = EventBus.defaultReplayBytes
        public var maxResultBytes = 16 << 20
        public var maxEventBytes = 1 << 20
        public var maxToolDepth = 8
        /// Largest tool-call arguments (JSON bytes); larger calls fail with `bad_arguments`.
        public var maxToolArgumentBytes = 1 << 20
        /// Default timeout of a tool call (capped by the caller's deadline).
        public var toolTimeout: Duration = .seconds(30)
        /// Caller and worker spin budgets (0 disables spinning).
        public var callerSpinIterations = 20_000
        public var workerSpinIterations = 20_000
        public var initialWorkers = 2
        public var maxWorkers = 1024
        /// Lowest log level written (0 trace … 4 error); 5 silences plugin logs.
        public var logLevel: Int32 = 3
        /// Users with no call for this long are removed by a background sweeper: their sessions
        /// are closed and their stream, stats and per-user breakers dropped (a later call starts
        /// afresh; the stream's seq keeps increasing). nil keeps users until
        /// `expireIdleUsers`/`removeUser` is called.
        public var idleUserExpiry: Duration? = .seconds(15 * 60)
        /// Where plugins loaded without an explicit choice run (`PluginLoadOptions.isolation`).
        public var isolation: Isolation = .inProcess
        /// Worker processes per isolated plugin, unless its load options say otherwise.
        public var workersPerPlugin = 2
        /// Where `runBlocking` (and the C API's `agentrt_run`) runs in-process agents by default.
        public var synchronousExecution: SynchronousExecution = .handOff
        public init() {}
    }

    public let configuration: Configuration
    public let events: EventBus
    public let tools: ToolDispatcher
    public let counters = RuntimeCounters()
    let clock: any RuntimeClock
    /// The clock is `SystemClock` (CLOCK_MONOTONIC): its readings can date events without a
    /// wall-clock read. A test's manual clock cannot.
    let clockIsSystem: Bool
    let pool: WorkerPool
    let watchdog: Watchdog
    let users: UserRegistry
    let global: FairSemaphore
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var agents: [AgentKey: AgentEntry] = [:]
    @exclusivity(unchecked) private var breakers: [String: CircuitBreaker] = [:]
    @exclusivity(unchecked) private var transitionListeners: [@Sendable (CircuitBreaker.Transition) -> Void] = []
    /// Called for every log line (defaults to stderr).
    public let logSink: Locked<(@Sendable (Int32, String) -> Void)?> = Locked(nil)

    public init(configuration: Configuration = Configuration(), clock: any RuntimeClock = SystemClock()) {
        self.configuration = configuration
        self.clock = clock
        self.clockIsSystem = clock is SystemClock
        let q = Lock(), c = ConditionVariable()
        self.quiescence = q
        self.quiescent = c
        self.pluginWork = PluginWorkCount(lock: q, cond: c)
        self.events = EventBus(replayCapacity: configuration.replayCapacity, replayBytes: configuration.replayBytes)
        self.watchdog = Watchdog(clock: clock)
        self.users = UserRegistry(perUserLimit: configuration.perUserLimit, events: events, clock: clock, timers: watchdog)
        self.global = FairSemaphore(limit: configuration.globalLimit, clock: clock, timers: watchdog)
        self.pool = WorkerPool(initialThreads: configuration.initialWorkers, maxThreads: configuration.maxWorkers,
                               spinIterations: configuration.workerSpinIterations)
        self.tools = ToolDispatcher()
        tools.runtime = self
        if let idle = configuration.idleUserExpiry {
            sweeper.withLock { $0 = IdleSweeper(runtime: self, idle: idle) }
        }
    }

    let sweeper = Locked<IdleSweeper?>(nil)
    /// Recent run outcomes per user (Runs/RunRecords.swift), for faces that look runs up by id.
    public let runRecords = RunRecords()
    /// The root "agent" of host tool calls (`callTool`); never in the registry.
    let hostCallEntry = try! AgentEntry(descriptor: AgentDescriptor(plugin: "host", name: "call", threadSafe: true),
                                   implementation: HostToolCallAgent(),
                                   breaker: CircuitBreaker(key: "host.call"))   // unused: each tool has its own

    deinit { shutdown() }

    /// Set once `shutdown()` began: new calls are refused with `cancelled`.
    let isShutDown = Atomic<Bool>(false)
    /// Root calls started whose outcome (and completion callback) is not yet delivered.
    let pendingOutcomes = Atomic<Int>(0)
    /// Plugin work queued outside calls (session closes); a separate object so the queued work
    /// never holds the runtime (a close queued from `deinit` must not resurrect it).
    let pluginWork: PluginWorkCount
    let quiescence: Lock
    let quiescent: ConditionVariable
    /// Run once at shutdown, after every call and session close (plugins' `on_shutdown`).
    let shutdownHooks = Locked<[@Sendable (_ pluginCodeStillRunning: Bool) -> Void]>([])

    func outcomeDelivered() {
        pendingOutcomes.subtract(1, ordering: .acquiringAndReleasing)
        if isShutDown.load(ordering: .acquiring) {
            quiescence.withLock { quiescent.broadcast() }
        }
    }


    /// Registers work to run once when the runtime shuts down (after its calls ended and its
    /// sessions closed); used by the native layer for plugins' `on_shutdown`. The argument says
    /// whether abandoned calls (or session closes) still run plugin code: a plugin must not be
    /// shut down under its own running code.
    public func addShutdownHook(_ body: @escaping @Sendable (_ pluginCodeStillRunning: Bool) -> Void) {
        shutdownHooks.withLock { $0.append(body) }
    }

    // MARK: registry

    /// Registers an agent under `plugin.name`.
    public func register(agent: AgentDescriptor, implementation: any AgentImplementation) throws(AgentRTError) {
        if let why = NameRules.checkPluginName(agent.plugin) { throw AgentRTError(.internal, "plugin name \"\(agent.plugin)\" \(why)") }
        if let why = NameRules.checkAgentOrPluginName(agent.name) { throw AgentRTError(.internal, "agent name \"\(agent.name)\" \(why)") }
        // The input schema is compiled once, here: an unusable schema is refused at load.
        let entry = try AgentEntry(descriptor: agent, implementation: implementation,
                                   breaker: breaker(for: agent.qualifiedName))
        try lock.withLock { () throws(AgentRTError) in
            let key = AgentKey(plugin: agent.plugin, name: agent.name)
            if agents[key] != nil {
                throw AgentRTError(.internal, "an agent named \(agent.qualifiedName) is already registered")
            }
            agents[key] = entry
        }
    }

    /// Every registered agent.
    public var agentDescriptors: [AgentDescriptor] {
        lock.withLock { agents.values.map(\.descriptor) }.sorted { $0.qualifiedName < $1.qualifiedName }
    }

    /// Where the agents of `plugin` run (nil: no agent of that plugin is registered).
    public func isolation(ofPlugin plugin: String) -> Isolation? {
        lock.withLock { agents.first { $0.key.plugin == plugin }?.value.implementation.isolation }
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
            var c = configuration.breaker
            c.minimumDistinctUsers = max(1, configuration.agentBreakerMinimumUsers)
            let b = CircuitBreaker(key: key, config: c, clock: clock)
            breakers[key] = b
            return b
        }
    }

    /// The agent-wide breaker of `plugin.agent`, or with `user` that user's own breaker for it.
    public func breaker(plugin: String, agent: String, user: String? = nil) -> CircuitBreaker {
        let name = "\(plugin).\(agent)"
        if let user {
            return users.state(for: user).breaker(for: name, config: configuration.breaker, clock: clock)
        }
        if let e = entry(plugin, agent) { return e.breaker }
        return breaker(for: name)
    }

    /// Operator control of a breaker (FORCED_OPEN, DISABLED, CLOSED): the agent-wide one, or
    /// with `user` that user's own.
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

    /// Writes one sanitised log line to `logSink`, or to stderr when no sink is set.
    func log(level: Int32, _ line: String) {
        guard level >= configuration.logLevel else { return }
        let clean = LogLine.sanitize(line)
        if let sink = logSink.withLock({ $0 }) { sink(level, clean); return }
        let text = "agentrt \(LogLine.names[Int(min(max(level, 0), 4))].uppercased()): \(clean)\n"
        var t = text
        t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// Counts plugin work queued outside calls and wakes a waiting shutdown when it drains.
final class PluginWorkCount: @unchecked Sendable {
    let count = Atomic<Int>(0)
    private let lock: Lock
    private let cond: ConditionVariable
    init(lock: Lock, cond: ConditionVariable) {
        self.lock = lock
        self.cond = cond
    }
    func started() { count.add(1, ordering: .relaxed) }
    func finished() {
        count.subtract(1, ordering: .acquiringAndReleasing)
        lock.withLock { cond.broadcast() }
    }
}
