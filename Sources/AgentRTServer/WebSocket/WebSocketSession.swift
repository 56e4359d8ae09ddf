import AgentRTCore
import HummingbirdWebSocket
import Synchronization

/// One `/v1/stream` connection: every event of its user's stream goes out as a text frame (one
/// JSON envelope each); the client sends `subscribe`, `run` and `cancel` messages.
///
/// Three parts: a pump task moves events from the runtime's subscription into the bounded
/// `SendBuffer`; one writer loop sends what the buffer holds; one reader loop handles the
/// client's messages. A client that does not keep up overflows the buffer and is closed with
/// 1008 and the seq to resume from.
final class WebSocketSession: ServerState.Closable, @unchecked Sendable {
    let principal: Principal
    let runtime: Runtime
    let state: ServerState
    let configuration: ServerConfiguration
    let metrics: ServerCounters
    let serverMetrics: ServerMetrics
    let buffer: SendBuffer
    let connectionID: String
    private let pump = Locked<(task: Task<Void, Never>, subscription: EventSubscription)?>(nil)
    private static let counter = Atomic<UInt64>(0)

    init(principal: Principal, runtime: Runtime, state: ServerState, configuration: ServerConfiguration,
         metrics: ServerCounters, serverMetrics: ServerMetrics) {
        self.principal = principal
        self.serverMetrics = serverMetrics
        self.runtime = runtime
        self.state = state
        self.configuration = configuration
        self.metrics = metrics
        self.buffer = SendBuffer(maxFrames: configuration.sendBufferFrames, maxBytes: configuration.sendBufferBytes,
                                 onOverflow: { metrics.slowConsumer() })
        self.connectionID = "ws_\(Self.counter.wrappingAdd(1, ordering: .relaxed).newValue)"
    }

    func closeForShutdown() { buffer.close(code: 1001, reason: "the server is shutting down") }

    /// (Re)subscribes: replay after `after` (nil: live from now), then live.
    func subscribe(after: UInt64?) {
        let base = after ?? (runtime.events.stream(for: principal.userID).nextSequence &- 1)
        let sub = runtime.events.subscribe(userID: principal.userID, afterSeq: after ?? base)
        let gen = buffer.resetEvents(resumeAfter: base)
        let buffer = self.buffer
        let patience = configuration.slowConsumerPatience
        let task = Task {
            while let e = await sub.next() {
                if await !buffer.enqueueEvent(e, generation: gen, patience: patience) { break }
            }
        }
        let old = pump.withLock { p in
            defer { p = (task, sub) }
            return p
        }
        old?.subscription.cancel()
        old?.task.cancel()
    }

    /// Stops the pump (the connection ended).
    func stop() {
        let old = pump.withLock { p in
            defer { p = nil }
            return p
        }
        old?.subscription.cancel()
        old?.task.cancel()
        buffer.finish()
    }

    func writeLoop(_ out: WebSocketOutboundWriter) async throws {
        while true {
            switch await buffer.next() {
            case .frame(let f):
                try await out.write(.text(f.text))
                buffer.wrote(f)
                if f.seq != nil { metrics.delivered(1) }
            case .overflow(let resume):
                try await out.close(.policyViolation, reason: "slow consumer: resume with after_seq=\(resume)")
                return
            case .close(let code, let reason):
                try await out.close(code == 1001 ? .goingAway : .normalClosure, reason: reason)
                return
            case .finished:
                return
            }
        }
    }

    func readLoop(_ inbound: WebSocketInboundStream) async throws {
        for try await message in inbound.messages(maxSize: configuration.maxBodyBytes) {
            guard case .text(let text) = message else {
                buffer.enqueueControl(Self.error(code: "bad_request", "send text frames of JSON"))
                continue
            }
            await handle(text)
        }
    }

    /// One client message.
    func handle(_ text: String) async {
        guard case .object(let o)? = try? JSONValue.parse(text), case .string(let type)? = o["type"] else {
            buffer.enqueueControl(Self.error(code: "bad_request", "each message is a JSON object with a \"type\""))
            return
        }
        switch type {
        case "subscribe":
            switch o["after_seq"] {
            case nil, .null?: subscribe(after: nil)
            case .number(let n)? where n.uint64 != nil: subscribe(after: n.uint64)
            default:
                buffer.enqueueControl(Self.error(code: "bad_request", "\"after_seq\" must be a non-negative integer"))
                return
            }
        case "run": await run(o)
        case "cancel":
            guard case .string(let runID)? = o["run_id"] else {
                buffer.enqueueControl(Self.error(code: "bad_request", "\"cancel\" needs \"run_id\""))
                return
            }
            let ok = runtime.cancel(runID: runID, userID: principal.userID, reason: "cancelled over the WebSocket")
            var w = JSONObjectWriter()
            w.string("type", "cancel_result")
            w.string("run_id", runID)
            w.bool("cancelled", ok)
            buffer.enqueueControl(w.finish())
        default:
            buffer.enqueueControl(Self.error(code: "bad_request", "unknown message type \"\(type)\""))
        }
    }

    private func run(_ o: JSONObject) async {
        let requestID = o["request_id"]?.stringValue
        let body: RunRequestBody
        do { body = try RunRequestBody(object: o, maxTimeout: configuration.maxRunTimeout) } catch {
            buffer.enqueueControl(Self.refused(requestID: requestID, runID: nil, code: error.code, error.message))
            return
        }
        let r = body.runRequest(userID: principal.userID, connectionID: connectionID)
        let runID = r.runID!
        buffer.hold(runID: runID)
        do {
            switch try await RunsAPI.start(r, wait: false, runtime: runtime, state: state, metrics: serverMetrics) {
            case .accepted, .finished:
                var w = JSONObjectWriter()
                w.string("type", "run_accepted")
                if let requestID { w.string("request_id", requestID) } else { w.null("request_id") }
                w.string("run_id", runID)
                buffer.release(runID: runID, first: w.finish())
            case .refused(let e):
                buffer.release(runID: runID, first: Self.refused(requestID: requestID, runID: runID,
                                                                  code: e.code.rawValue, e.message))
            }
        } catch {
            buffer.release(runID: runID, first: Self.refused(requestID: requestID, runID: nil,
                                                              code: error.code, error.message))
        }
    }

    static func refused(requestID: String?, runID: String?, code: String, _ message: String) -> String {
        var w = JSONObjectWriter()
        w.string("type", "run_refused")
        if let requestID { w.string("request_id", requestID) } else { w.null("request_id") }
        if let runID { w.string("run_id", runID) }
        w.raw("error", APIError.object(code: code, message: message))
        return w.finish()
    }

    static func error(code: String, _ message: String) -> String {
        var w = JSONObjectWriter()
        w.string("type", "error")
        w.raw("error", APIError.object(code: code, message: message))
        return w.finish()
    }
}
