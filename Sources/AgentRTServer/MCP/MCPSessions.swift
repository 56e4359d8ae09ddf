import AgentRTCore
import AgentRTMCP
import Foundation
import MCP

/// The MCP sessions of `/mcp`, each bound to the user who created it.
///
/// Bounded: at most `maxSessions` in all and `maxSessionsPerUser` per user (a creation in
/// progress holds its slot), so neither one user nor all together can make the server hold
/// unbounded servers and streams. A session without a request for `idleTimeout` (and no stream
/// open) is closed by `expireIdle`; `closeAll` ends every one at shutdown.
///
/// A session is found only with its user: another user's session id is answered exactly like an
/// id that never existed.
final class MCPSessions: @unchecked Sendable {
    struct Limits: Sendable {
        var maxSessions: Int
        var maxSessionsPerUser: Int
        var idleTimeout: Duration
    }

    /// Why no session was created: the HTTP answer says which limit, and what to do.
    enum Refusal: Error, Sendable {
        case tooManyForUser(limit: Int)
        case tooMany(limit: Int)
        case closing
        case failed(String)
    }

    let limits: Limits
    private let runtime: Runtime
    private let observer: MCPRunObserver?
    private let validation: any HTTPRequestValidationPipeline

    private let lock = Lock()
    // Guarded by `lock`.
    private var sessions: [ExactID: MCPSession] = [:]
    /// Sessions per user, those being created included.
    private var perUser: [ExactID: Int] = [:]
    private var total = 0
    private var accepting = true

    init(limits: Limits, runtime: Runtime, observer: MCPRunObserver?, validation: any HTTPRequestValidationPipeline) {
        self.limits = limits
        self.runtime = runtime
        self.observer = observer
        self.validation = validation
    }

    var count: Int { lock.withLock { sessions.count } }

    func count(of userID: String) -> Int { lock.withLock { perUser[ExactID(userID)] ?? 0 } }

    /// A new session for `userID`, or why not.
    func create(for userID: String) async -> Result<MCPSession, Refusal> {
        let user = ExactID(userID)
        let reserved: Refusal? = lock.withLock {
            guard accepting else { return .closing }
            if perUser[user, default: 0] >= limits.maxSessionsPerUser { return .tooManyForUser(limit: limits.maxSessionsPerUser) }
            if total >= limits.maxSessions { return .tooMany(limit: limits.maxSessions) }
            perUser[user, default: 0] += 1
            total += 1
            return nil
        }
        if let reserved { return .failure(reserved) }
        let id = Self.newSessionID()
        let session: MCPSession
        do {
            session = try await MCPSession.start(id: id, userID: userID, runtime: runtime, observer: observer,
                                                 validation: validation)
        } catch {
            release(user)
            return .failure(.failed("\(error)"))
        }
        let added: Bool = lock.withLock {
            guard accepting else { return false }
            sessions[ExactID(id)] = session
            return true
        }
        if !added {
            await session.close(reason: "the server is shutting down")
            release(user)
            return .failure(.closing)
        }
        return .success(session)
    }

    /// The session `id` of `userID`; nil when there is none, or it is another user's.
    func session(_ id: String, of userID: String) -> MCPSession? {
        lock.withLock {
            guard let s = sessions[ExactID(id)], ExactID(s.userID) == ExactID(userID) else { return nil }
            return s
        }
    }

    /// Removes and closes `session` (DELETE, a failed initialize, expiry).
    func remove(_ session: MCPSession, reason: String) async {
        let removed: Bool = lock.withLock {
            guard let s = sessions[ExactID(session.id)], s === session else { return false }
            sessions.removeValue(forKey: ExactID(session.id))
            return true
        }
        guard removed else { return }
        await session.close(reason: reason)
        release(ExactID(session.userID))
    }

    /// Closes the sessions idle for `limits.idleTimeout` at `now`; how many.
    @discardableResult
    func expireIdle(now: ContinuousClock.Instant = .now) async -> Int {
        let idle = lock.withLock { sessions.values.filter { $0.isIdle(now: now, timeout: limits.idleTimeout) } }
        for s in idle { await remove(s, reason: "the MCP session expired (idle)") }
        return idle.count
    }

    /// Expires idle sessions periodically until cancelled.
    func sweepUntilCancelled() async {
        let period = max(min(limits.idleTimeout / 4, .seconds(30)), .milliseconds(10))
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            if Task.isCancelled { return }
            await expireIdle()
        }
    }

    /// At shutdown: no new session; each open one gets up to `grace` for the responses still on
    /// their way (the runs were drained already), then every one is closed.
    func closeAll(grace: Duration) async {
        let all: [MCPSession] = lock.withLock {
            accepting = false
            return Array(sessions.values)
        }
        let deadline = ContinuousClock.now + grace
        for s in all {
            // Polled: this runs once, while the server stops.
            while await s.unansweredStreams > 0 && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        for s in all { await remove(s, reason: "the server is shutting down") }
    }

    private func release(_ user: ExactID) {
        lock.withLock {
            total -= 1
            let n = (perUser[user] ?? 1) - 1
            if n <= 0 { perUser.removeValue(forKey: user) } else { perUser[user] = n }
        }
    }

    /// 32 random hex digits: visible ASCII, as the spec asks, and unguessable.
    static func newSessionID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let s = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }.joined()
    }
}
