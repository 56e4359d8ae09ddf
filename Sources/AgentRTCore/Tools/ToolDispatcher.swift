/// A registered tool and its guard state.
final class ToolEntry: @unchecked Sendable {
    let descriptor: ToolDescriptor
    let implementation: any ToolImplementation
    let schema: JSONSchema?
    let breaker: CircuitBreaker
    let stats = CallStats()
    // Copied out of the descriptor once: reading a member of the stored struct per call copies it.
    let qualifiedName: String
    let plugin: String
    let name: String
    let timeout: Duration?
    let validates: Bool
    /// The key of a user's own breaker for this tool (`tool:plugin.name`).
    let breakerKey: String

    init(descriptor: ToolDescriptor, implementation: any ToolImplementation, schema: JSONSchema?, breaker: CircuitBreaker) {
        self.qualifiedName = descriptor.qualifiedName
        self.breakerKey = "tool:" + descriptor.qualifiedName
        self.plugin = descriptor.plugin
        self.name = descriptor.name
        self.timeout = descriptor.defaultTimeout
        self.validates = !implementation.validatesOwnArguments
        self.descriptor = descriptor
        self.implementation = implementation
        self.schema = schema
        self.breaker = breaker
    }
}

/// One registry of tools named `plugin.tool`: JSON tools and typed native tools from plugins, and
/// tools the host registers. Every call runs in a child context of the calling agent's call (same
/// user, own run id, inherited deadline), on the caller's thread, with its own timeout and breaker,
/// arguments validated before any tool code runs, and a `tool_executing`/`tool_completed` pair.
public final class ToolDispatcher: @unchecked Sendable {
    unowned(unsafe) var runtime: Runtime!
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var tools: [String: ToolEntry] = [:]
    @exclusivity(unchecked) private var resolved: [AgentKey: ToolEntry] = [:]

    init() {}

    /// Registers a tool under `plugin.name`.
    public func register(_ d: ToolDescriptor, implementation: any ToolImplementation) throws(AgentRTError) {
        if let why = NameRules.checkToolName(d.name) {
            throw AgentRTError(.badArguments, "tool name \"\(d.name)\" \(why)")
        }
        if d.plugin != "host", let why = NameRules.checkPluginName(d.plugin) {
            throw AgentRTError(.badArguments, "tool owner \"\(d.plugin)\" \(why)")
        }
        let schema: JSONSchema?
        do { schema = try JSONSchema(d.inputSchema) } catch {
            throw AgentRTError(.internal, "tool \(d.qualifiedName) has an unusable input schema: \(error)")
        }
        // Tool-wide breaker: opens only on failures from several users (like an agent's); each
        // user also has their own breaker per tool, which trips on that user's failures alone.
        var wide = runtime.configuration.breaker
        wide.minimumDistinctUsers = max(1, runtime.configuration.agentBreakerMinimumUsers)
        let breaker = CircuitBreaker(key: "tool:\(d.qualifiedName)", config: wide, clock: runtime.clock)
        try lock.withLock { () throws(AgentRTError) in
            if tools[d.qualifiedName] != nil { throw AgentRTError(.internal, "a tool named \(d.qualifiedName) is already registered") }
            tools[d.qualifiedName] = ToolEntry(descriptor: d, implementation: implementation, schema: schema, breaker: breaker)
            resolved.removeAll()   // a new name may change how a short name resolves
        }
    }

    /// Every registered tool, sorted by name.
    public var descriptors: [ToolDescriptor] {
        lock.withLock { tools.values.map(\.descriptor) }.sorted { $0.qualifiedName < $1.qualifiedName }
    }

    /// The tool-wide breaker of a tool, or with `user` that user's own (for operators and tests).
    public func breaker(for qualifiedName: String, user: String? = nil) -> CircuitBreaker? {
        guard let wide = lock.withLock({ tools[qualifiedName]?.breaker }) else { return nil }
        guard let user else { return wide }
        return runtime.users.state(for: user).breaker(for: "tool:" + qualifiedName, config: runtime.configuration.breaker, clock: runtime.clock)
    }

    /// `plugin.tool`, or `tool` of the caller's own plugin (resolved once, then cached).
    func resolve(_ name: String, caller: AgentCall) -> ToolEntry? {
        let key = AgentKey(plugin: caller.plugin, name: name)
        if let e = lock.withLock({ resolved[key] }) { return e }   // the common case: one lookup
        let e = lock.withLock { tools[name] ?? tools["\(caller.plugin).\(name)"] }
        if let e { lock.withLock { resolved[key] = e } }
        return e
    }

    /// Runs a tool for `caller`. Runtime failures are statuses (with an event pair); a tool's own
    /// failure is `.ok` with `isError`.
    func dispatch(from caller: AgentCall, name: String, argumentsJSON: String) -> (HostStatus, ToolCallResult?) {
        let started = runtime.clock.nowNanos()
        let callID = RunID.next(.tool)
        guard let entry = resolve(name, caller: caller) else {
            let e = AgentRTError(.notFound, "no tool named \"\(name)\" (tools are named plugin.tool)")
            announceFailure(caller, callID, name, argumentsJSON, e, started)
            return (.notFound, nil)
        }
        let tool = entry.qualifiedName
        let argBytes = argumentsJSON.utf8.count
        if argBytes > runtime.configuration.maxToolArgumentBytes {
            let e = AgentRTError(.badArguments, "arguments of \(tool) are \(argBytes) bytes, more than the limit of \(runtime.configuration.maxToolArgumentBytes)")
            announceFailure(caller, callID, tool, "null", e, started)
            return (.tooLarge, nil)
        }
        if caller.context.depth >= runtime.configuration.maxToolDepth {
            let e = AgentRTError(.invalidContext, "tool calls nest deeper than \(runtime.configuration.maxToolDepth) levels")
            announceFailure(caller, callID, tool, argumentsJSON, e, started)
            return (.invalidContext, nil)
        }
        let args: JSONValue
        do { args = try JSONValue.parse(argumentsJSON) } catch {
            let e = AgentRTError(.badArguments, "arguments of \(tool) are not valid JSON: \(error)")
            announceFailure(caller, callID, tool, "null", e, started)
            return (.invalidJSON, nil)
        }
        if entry.validates, let schema = entry.schema {
            let violations = schema.validate(args)
            if !violations.isEmpty {
                let e = AgentRTError(.badArguments, "arguments of \(tool) do not match its schema: "
                                     + violations.map(\.description).joined(separator: "; "))
                announceFailure(caller, callID, tool, argumentsJSON, e, started)
                return (.badArguments, nil)
            }
        }
        let userID = caller.context.userID
        let user = caller.root.userState ?? runtime.users.state(for: userID)
        // The user's own breaker for the tool exists from their first failure of it on.
        let breakerKey = entry.breakerKey
        let own = user.existingBreaker(for: breakerKey)
        let (permit, retryAt, transitions) = entry.breaker.acquire()
        runtime.publish(transitions, userID: userID)
        guard let permit else {
            var e = AgentRTError(.circuitOpen, "the tool-wide circuit breaker of \(tool) is \(entry.breaker.currentState.rawValue)")
            if let retryAt, retryAt != .max { e.retryAtMillis = runtime.wallMillis(fromMonotonic: retryAt) }
            announceFailure(caller, callID, tool, argumentsJSON, e, started)
            return (.circuitOpen, nil)
        }
        var ownPermit: CircuitBreaker.Permit? = nil
        if let own {
            let (p, ownRetryAt, ownTransitions) = own.acquire()
            runtime.publish(ownTransitions, userID: userID)
            guard let p else {
                _ = entry.breaker.record(permit, outcome: .ignored, duration: .zero)
                var e = AgentRTError(.circuitOpen, "user \(userID)'s circuit breaker for tool \(tool) is \(own.currentState.rawValue)")
                if let ownRetryAt, ownRetryAt != .max { e.retryAtMillis = runtime.wallMillis(fromMonotonic: ownRetryAt) }
                announceFailure(caller, callID, tool, argumentsJSON, e, started)
                return (.circuitOpen, nil)
            }
            ownPermit = p
        }
        let timeout = entry.timeout ?? runtime.configuration.toolTimeout
        let ctx: UserExecutionContext
        do { ctx = try caller.context.child(trustedRunID: callID, timeout: timeout, now: started) } catch {
            _ = entry.breaker.record(permit, outcome: .ignored, duration: .zero)
            if let own, let ownPermit { _ = own.record(ownPermit, outcome: .ignored, duration: .zero) }
            announceFailure(caller, callID, tool, argumentsJSON, error, started)
            return (error.code.status, nil)
        }
        let call = AgentCall(runtime: runtime, context: ctx, plugin: entry.plugin, name: entry.name,
                             parent: caller, stream: caller.stream, input: argumentsJSON, heartbeatTimeout: .zero,
                             grace: runtime.configuration.grace)
        let timeoutMs = Int64((ctx.remainingNanos(now: started) ?? 0) / 1_000_000)
        // Tool events of a whole run tree are ordered under its root's lock, so none can follow
        // the root's terminal event, and the terminal closes every open pair, nested ones too.
        let root = caller.root
        let opened = root.lock.withLock { () -> Bool in
            if !root.state.isLive { return false }
            root.openTools.append((callID, tool, caller))
            caller.publishLocked(.toolExecuting, .toolExecuting(id: callID, tool: tool, arguments: argumentsJSON,
                                                                timeoutMs: timeoutMs))
            return true
        }
        guard opened else {
            _ = entry.breaker.record(permit, outcome: .ignored, duration: .zero)
            if let own, let ownPermit { _ = own.record(ownPermit, outcome: .ignored, duration: .zero) }
            runtime.counters.lateToolCalls.add(1, ordering: .relaxed)
            ctx.end()
            return (.staleHandle, nil)
        }
        // When the caller's deadline comes first, the caller's watchdog entry cancels this child
        // too (cancellation reaches descendants); only a tool with a shorter deadline needs its own.
        let ownDeadline = ctx.deadlineNanos.map { d in caller.context.deadlineNanos.map { d < $0 } ?? true } ?? false
        if ownDeadline, let t = call.firstWatchTime { runtime.watchdog.schedule(call, at: t) }
        let output = entry.implementation.invoke(call, arguments: args, argumentsJSON: argumentsJSON)
        if ownDeadline { runtime.watchdog.remove(call) }
        let elapsed = runtime.clock.nowNanos() &- started
        // A tool that outlived its deadline is a timeout, whatever it returned late.
        let final: ToolOutput
        if ctx.isCancelled, let cause = ctx.cancellationCause, !call.isRunning || cause == .deadline {
            final = .failure(AgentRTError(cause.errorCode, "tool \(tool): \(cause.explanation)"))
        } else {
            final = output
        }
        call.endTool()
        ctx.end()
        let breakerOutcome: CircuitBreaker.Outcome
        let status: HostStatus
        let result: ToolCallResult?
        var error: AgentRTError? = nil
        switch final {
        case .result(let json):
            breakerOutcome = .success; status = .ok; result = ToolCallResult(isError: false, content: json)
        case .toolError(let text):
            // A tool's own error result says the tool works: it is not a breaker failure
            // (timeouts, crashes and runtime failures are).
            breakerOutcome = .success; status = .ok
            result = ToolCallResult(isError: true, content: Self.errorContent(text))
        case .failure(let e):
            breakerOutcome = e.code == .cancelled || e.code == .badArguments ? .ignored : .failure
            status = e.code.status; result = nil; error = e
        }
        entry.stats.record(error.map { .failure($0) } ?? .success(""), duration: .nanoseconds(Int64(elapsed)))
        let slow = runtime.configuration.breaker.slowCallDuration.map { Duration.nanoseconds(Int64(elapsed)) >= $0 } ?? false
        let attributed = breakerOutcome == .failure || runtime.configuration.breaker.slowCallDuration != nil
        let who = attributed ? UInt64(bitPattern: Int64(ExactID(userID).hashValue)) : 0
        if let own, let ownPermit {
            runtime.publish(own.record(ownPermit, outcome: breakerOutcome, duration: .nanoseconds(Int64(elapsed)), user: who),
                            userID: userID)
        } else if breakerOutcome == .failure || slow {
            runtime.startUserBreaker(user, key: breakerKey, outcome: breakerOutcome,
                                     duration: .nanoseconds(Int64(elapsed)), who: who)
        }
        runtime.publish(entry.breaker.record(permit, outcome: breakerOutcome, duration: .nanoseconds(Int64(elapsed)), user: who),
                        userID: caller.context.userID)
        root.lock.withLock {
            guard let i = root.openTools.firstIndex(where: { $0.id == callID }) else { return }  // closed by terminal
            root.openTools.remove(at: i)
            caller.publishLocked(.toolCompleted, .toolCompleted(
                id: callID, tool: tool, isError: result?.isError ?? true, content: result?.content, error: error,
                durationMs: Int64(elapsed / 1_000_000)))
        }
        return (status, result)
    }

    /// A tool's own error as JSON content (text becomes a JSON string).
    static func errorContent(_ text: String) -> String {
        if JSONValue.isValid(text) { return text }
        var s = ""
        JSONValue.appendQuoted(text, to: &s)
        return s
    }

    private func announceFailure(_ caller: AgentCall, _ id: String, _ tool: String, _ args: String, _ e: AgentRTError,
                                 _ started: UInt64) {
        let root = caller.root
        root.lock.withLock {
            if !root.state.isLive { return }
            caller.publishLocked(.toolExecuting, .toolExecuting(id: id, tool: tool,
                                                                arguments: JSONValue.isValid(args) ? args : "null", timeoutMs: 0))
            caller.publishLocked(.toolCompleted, .toolCompleted(
                id: id, tool: tool, isError: true, content: nil, error: e,
                durationMs: Int64((runtime.clock.nowNanos() &- started) / 1_000_000)))
        }
    }
}
