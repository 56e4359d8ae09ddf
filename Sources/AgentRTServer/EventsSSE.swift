import AgentRTCore
import HTTPTypes
import Hummingbird

/// `GET /v1/events`: the caller's user's stream as Server-Sent Events.
///
/// Each event is `id: <seq>`, `event: <type>`, `data: <envelope>`. A client resumes with
/// `Last-Event-ID` (what EventSource sends on reconnect; it wins over the query) or
/// `?after_seq=N`; a cursor older than the replay buffer gets a `stream_gap` event first, never a
/// silent skip. The subscription reads the runtime's bounded replay buffer, so a slow client
/// costs no memory here: it falls behind into a `stream_gap`. A `: keepalive` comment goes out
/// after `keepaliveInterval` without an event so proxies keep the connection.
struct EventsSSE: Sendable {
    let runtime: Runtime
    let state: ServerState
    let auth: Authenticator
    let configuration: ServerConfiguration
    let metrics: ServerCounters

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/v1/events") { request, _ in try open(request) }
    }

    func open(_ request: Request) throws -> Response {
        let who = try auth.principal(request, allowQueryToken: true)
        let cursor = try Self.cursor(request)
        let stream = SSEStream()
        guard state.open(stream) else { throw APIError.draining }
        let subscription = runtime.events.subscribe(userID: who.userID, afterSeq: cursor)
        stream.subscription = subscription
        let keepalive = configuration.keepaliveInterval
        let state = self.state
        let metrics = self.metrics
        metrics.sseOpened()
        let body = ResponseBody { writer in
            defer {
                subscription.cancel()
                state.closed(stream)
                metrics.sseClosed()
            }
            try await writer.write(ByteBuffer(string: ": connected\nretry: 2000\n\n"))
            reading: while !stream.isClosed {
                switch await Self.next(subscription, within: keepalive) {
                case .event(let e):
                    try await writer.write(ByteBuffer(string: Self.frame(e)))
                    metrics.delivered(1)
                case .quiet:
                    try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                case .ended:
                    break reading
                }
            }
            try await writer.finish(nil)
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The resume cursor: `Last-Event-ID`, else `?after_seq`, else nil (live only).
    static func cursor(_ request: Request) throws(APIError) -> UInt64? {
        if let h = request.headers[HTTPField.Name("Last-Event-ID")!] {
            guard let n = UInt64(Substring(h).trimmingCharacters(in: " ")) else { throw APIError.badRequest("Last-Event-ID must be a seq") }
            return n
        }
        if let q = request.uri.queryParameters["after_seq"] {
            guard let n = UInt64(q) else { throw APIError.badRequest("after_seq must be a non-negative integer") }
            return n
        }
        return nil
    }

    /// One SSE frame. The envelope is one line of JSON (no raw newlines), so one `data:` line.
    static func frame(_ e: Event) -> String {
        "id: \(e.seq)\nevent: \(e.kind.rawValue)\ndata: \(e.json)\n\n"
    }

    enum Next { case event(Event), quiet, ended }

    /// The next event, or `.quiet` when none came within `interval`. An event taken by the
    /// reader just as the timer fired is still returned (never dropped).
    static func next(_ sub: EventSubscription, within interval: Duration) async -> Next {
        if let e = sub.poll() { return .event(e) }
        enum Wake: Sendable { case event(Event?), tick }
        let wakes: [Wake] = await withTaskGroup(of: Wake.self) { g in
            g.addTask { .event(await sub.next()) }
            g.addTask {
                try? await Task.sleep(for: interval)
                return .tick
            }
            var got: [Wake] = []
            if let first = await g.next() { got.append(first) }
            g.cancelAll()
            for await w in g { got.append(w) }
            return got
        }
        for case .event(let e?) in wakes { return .event(e) }
        if Task.isCancelled { return .ended }
        return .quiet
    }
}

/// An open SSE response, closable at shutdown.
final class SSEStream: ServerState.Closable, @unchecked Sendable {
    private let closed = Locked(false)
    let subscriptionBox = Locked<EventSubscription?>(nil)
    var subscription: EventSubscription? {
        get { subscriptionBox.withLock { $0 } }
        set { subscriptionBox.withLock { $0 = newValue } }
    }
    var isClosed: Bool { closed.withLock { $0 } }

    func closeForShutdown() {
        closed.withLock { $0 = true }
        subscription?.cancel()
    }
}
