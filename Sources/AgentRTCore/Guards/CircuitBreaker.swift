/// A count-based circuit breaker with the state machine of GUARDS.md (Resilience4j semantics).
///
/// - CLOSED: calls pass; outcomes fill a window of the last `windowSize` calls; once at least
///   `minimumCalls` are in it and the failure rate (or slow-call rate) reaches its threshold, OPEN.
/// - OPEN: calls fail fast with `circuit_open` until `now >= openedAt + waitDuration` (checked
///   lazily on the next acquire), then HALF_OPEN.
/// - HALF_OPEN: `probes` permits; all probes succeeding closes it, any failing re-opens it. A probe
///   that never reports loses its lease after one wait duration.
/// - FORCED_OPEN / DISABLED: set by an operator; refuse everything / pass everything.
///
/// Every permit carries the generation it was issued in; an outcome from an older generation is
/// counted but never drives a transition. Transitions are returned to the caller, which
/// publishes them outside the lock, once each, in order.
public final class CircuitBreaker: @unchecked Sendable {
    public enum State: String, Sendable { case closed, open, halfOpen = "half_open", forcedOpen = "forced_open", disabled }

    public struct Config: Sendable, Equatable {
        public var windowSize = 20
        public var minimumCalls = 10
        public var failureRateThreshold = 0.5
        /// Calls slower than this count as slow; nil disables the slow-call rule.
        public var slowCallDuration: Duration? = nil
        public var slowCallRateThreshold = 1.0
        public var waitDuration: Duration = .seconds(30)
        public var halfOpenProbes = 1
        /// Distinct users whose calls failed in the window before it may open (1: any). The
        /// agent-wide breaker uses `Runtime.Configuration.agentBreakerMinimumUsers`, so one user's
        /// failures open only that user's breaker.
        public var minimumDistinctUsers = 1
        public init() {}
    }

    /// A permission to run one call.
    public struct Permit: Sendable {
        public let generation: UInt64
        public let isProbe: Bool
        let probeID: UInt64
    }

    /// A state change, to publish once.
    public struct Transition: Sendable, Equatable {
        public let key: String
        public let from: State
        public let to: State
        public let failureRate: Double
        /// When OPEN: monotonic nanos at which a probe may be admitted.
        public let retryAtNanos: UInt64?
    }

    public enum Outcome: Sendable { case success, failure, ignored }

    public let key: String
    public let config: Config
    let clock: any RuntimeClock
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var state: State = .closed
    @exclusivity(unchecked) private var generation: UInt64 = 0
    @exclusivity(unchecked) private var window: [UInt8] = []   // 0 ok, 1 failure, 2 slow ok, 3 slow failure
    @exclusivity(unchecked) private var windowUsers: [UInt64] = []   // who made each call in `window` (a hash of the user id)
    @exclusivity(unchecked) private var windowNext = 0
    @exclusivity(unchecked) private var failures = 0, slows = 0
    @exclusivity(unchecked) private var openedAt: UInt64 = 0
    @exclusivity(unchecked) private var probes: [UInt64: UInt64] = [:]  // probe id -> lease start
    @exclusivity(unchecked) private var probeSuccesses = 0
    @exclusivity(unchecked) private var probesIssued = 0   // probes handed out in this half-open period
    @exclusivity(unchecked) private var nextProbeID: UInt64 = 1
    /// Outcomes reported with a stale generation (metrics only).
    @exclusivity(unchecked) public private(set) var staleOutcomes = 0

    public init(key: String, config: Config = Config(), clock: any RuntimeClock = SystemClock()) {
        self.key = key
        self.config = config
        self.clock = clock
        window.reserveCapacity(config.windowSize)
    }

    public var currentState: State { lock.withLock { state } }

    /// Asks to run a call. Returns a permit, or the time (monotonic nanos) after which to retry.
    public func acquire() -> (permit: Permit?, retryAtNanos: UInt64?, transitions: [Transition]) {
        lock.withLock {
            var t: [Transition] = []
            // Time matters only while open or half-open: a closed breaker reads no clock.
            let now = state == .open || state == .halfOpen ? clock.nowNanos() : 0
            switch state {
            case .disabled:
                return (Permit(generation: generation, isProbe: false, probeID: 0), nil, t)
            case .forcedOpen:
                return (nil, .max, t)
            case .closed:
                return (Permit(generation: generation, isProbe: false, probeID: 0), nil, t)
            case .open:
                let retryAt = openedAt &+ config.waitDuration.nanoseconds
                if now < retryAt { return (nil, retryAt, t) }
                t.append(transitionLocked(to: .halfOpen, now: now))
                fallthrough
            case .halfOpen:
                // Leases of probes that never reported expire after one wait duration.
                let lease = config.waitDuration.nanoseconds
                let before = probes.count
                probes = probes.filter { now < $0.value &+ lease }
                probesIssued -= before - probes.count   // expired leases give their probe back
                if probesIssued < config.halfOpenProbes {
                    probesIssued += 1
                    let id = nextProbeID
                    nextProbeID += 1
                    probes[id] = now
                    return (Permit(generation: generation, isProbe: true, probeID: id), nil, t)
                }
                let soonest = probes.values.min().map { $0 &+ lease } ?? now
                return (nil, soonest, t)
            }
        }
    }

    /// Reports the outcome of a permitted call.
    public func record(_ permit: Permit, outcome: Outcome, duration: Duration, user: UInt64 = 0) -> [Transition] {
        lock.withLock {
            guard permit.generation == generation else { staleOutcomes += 1; return [] }
            if outcome == .ignored {
                // A probe whose outcome says nothing about health (cancelled) gives its slot back.
                if permit.isProbe, probes.removeValue(forKey: permit.probeID) != nil { probesIssued -= 1 }
                return []
            }
            let failed = outcome == .failure
            let slow = config.slowCallDuration.map { duration >= $0 } ?? false
            switch state {
            case .closed:
                push(failed: failed, slow: slow, user: user)
                guard window.count >= config.minimumCalls else { return [] }
                let rate = Double(failures) / Double(window.count)
                let slowRate = Double(slows) / Double(window.count)
                if rate >= config.failureRateThreshold || (config.slowCallDuration != nil && slowRate >= config.slowCallRateThreshold),
                   distinctFailingUsersLocked() >= config.minimumDistinctUsers {
                    return [transitionLocked(to: .open, now: clock.nowNanos(), rate: rate)]
                }
                return []
            case .halfOpen:
                guard permit.isProbe, probes.removeValue(forKey: permit.probeID) != nil else { return [] }
                let now = clock.nowNanos()
                if failed || slow { return [transitionLocked(to: .open, now: now, rate: 1)] }
                probeSuccesses += 1
                if probeSuccesses >= config.halfOpenProbes { return [transitionLocked(to: .closed, now: now, rate: 0)] }
                return []
            case .open, .forcedOpen, .disabled:
                return []
            }
        }
    }

    /// Operator control: FORCED_OPEN, DISABLED, or back to CLOSED.
    public func force(_ to: State) -> [Transition] {
        lock.withLock {
            guard to != state else { return [] }
            return [transitionLocked(to: to, now: clock.nowNanos())]
        }
    }

    /// Failure rate of the current window (0 when empty).
    public var failureRate: Double {
        lock.withLock { window.isEmpty ? 0 : Double(failures) / Double(window.count) }
    }

    /// Users with a failed or slow call in the window.
    private func distinctFailingUsersLocked() -> Int {
        if config.minimumDistinctUsers <= 1 { return 1 }
        var seen = Set<UInt64>()
        for (i, c) in window.enumerated() where c != 0 { seen.insert(windowUsers[i]) }
        return seen.count
    }

    private func push(failed: Bool, slow: Bool, user: UInt64) {
        let code: UInt8 = (failed ? 1 : 0) | (slow ? 2 : 0)
        if window.count < config.windowSize {
            window.append(code)
            windowUsers.append(user)
        } else {
            windowUsers[windowNext] = user
            let old = window[windowNext]
            if old & 1 != 0 { failures -= 1 }
            if old & 2 != 0 { slows -= 1 }
            window[windowNext] = code
            windowNext = (windowNext + 1) % config.windowSize
        }
        if failed { failures += 1 }
        if slow { slows += 1 }
    }

    private func transitionLocked(to: State, now: UInt64, rate: Double? = nil) -> Transition {
        let from = state
        let r = rate ?? (window.isEmpty ? 0 : Double(failures) / Double(window.count))
        state = to
        generation += 1
        window.removeAll(keepingCapacity: true)
        windowUsers.removeAll(keepingCapacity: true)
        windowNext = 0
        failures = 0
        slows = 0
        probes.removeAll()
        probeSuccesses = 0
        probesIssued = 0
        if to == .open { openedAt = now }
        return Transition(key: key, from: from, to: to, failureRate: r,
                          retryAtNanos: to == .open ? now &+ config.waitDuration.nanoseconds : nil)
    }
}
