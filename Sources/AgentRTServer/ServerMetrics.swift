import AgentRTCore
import Hummingbird
import Prometheus

/// `GET /metrics`: Prometheus text format (swift-prometheus), one registry per server. Labels
/// name agents, outcomes and breaker states, never users. Runs are counted as the server sees
/// them end; gauges (in flight, zombies, breaker state, connections) are read at scrape time.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    private let runtime: Runtime
    private let state: ServerState
    private let counters: ServerCounters
    private let lock = Lock()
    // Guarded by `lock`: what the monotonic server counters were at the last scrape.
    private var lastDelivered = 0
    private var lastSlow = 0
    private var lastEmitted: UInt64 = 0
    private let buckets: [Duration] = [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
                                       .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
                                       .seconds(30), .seconds(60)]

    init(runtime: Runtime, state: ServerState, counters: ServerCounters) {
        self.runtime = runtime
        self.state = state
        self.counters = counters
    }

    /// A run the server started ended (or was refused before it started).
    func runEnded(agent: String, outcome: String, duration: Duration, started: Bool) {
        registry.makeCounter(descriptor: Self.name("agentrt_runs", "total", "Runs by agent and outcome (ok or the error code)"),
                             labels: [("agent", agent), ("outcome", outcome)]).increment()
        if started {
            registry.makeDurationHistogram(descriptor: Self.name("agentrt_run_duration", "seconds", "Run duration, admission to outcome"),
                                           labels: [("agent", agent)], buckets: buckets)
                .record(duration)
        }
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/metrics") { _, _ in
            var headers: HTTPFields = [:]
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: self.scrape())))
        }
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metric, unitName: unit, helpText: help)
    }

    func scrape() -> String {
        registry.makeGauge(descriptor: Self.name("agentrt_runs_in_flight", "", "Runs the server started that have not ended"))
            .set(to: Double(state.runsInFlight))
        registry.makeGauge(descriptor: Self.name("agentrt_open_connections", "", "Open streaming connections"),
                           labels: [("kind", "websocket")]).set(to: Double(counters.openWebSocketConnections))
        registry.makeGauge(descriptor: Self.name("agentrt_open_connections", "", "Open streaming connections"),
                           labels: [("kind", "sse")]).set(to: Double(counters.openSSEStreams))
        for a in runtime.agentDescriptors {
            let name = a.qualifiedName
            if let s = runtime.stats(plugin: a.plugin, agent: a.name) {
                registry.makeGauge(descriptor: Self.name("agentrt_zombies", "", "Abandoned calls still running, by agent"),
                                   labels: [("agent", name)]).set(to: Double(s.zombies))
            }
            let current = runtime.breaker(plugin: a.plugin, agent: a.name).currentState
            for st in [CircuitBreaker.State.closed, .open, .halfOpen, .forcedOpen, .disabled] {
                registry.makeGauge(descriptor: Self.name("agentrt_breaker_state", "", "1 for the agent-wide breaker's current state"),
                                   labels: [("agent", name), ("state", st.rawValue)]).set(to: st == current ? 1.0 : 0.0)
            }
        }
        let emittedNow = runtime.events.eventsEmitted   // O(users): outside the lock
        let (delivered, slow, emitted): (Int, Int, UInt64) = lock.withLock {
            let d = counters.eventsDeliveredCount, s = counters.slowConsumerDisconnectCount
            // Two scrapes may read the emitted total in either order: count only growth.
            let e = emittedNow > lastEmitted ? emittedNow - lastEmitted : 0
            defer { lastDelivered = d; lastSlow = s; lastEmitted = max(lastEmitted, emittedNow) }
            return (d - lastDelivered, s - lastSlow, e)
        }
        registry.makeCounter(descriptor: Self.name("agentrt_events_emitted", "total",
                                                   "Events the runtime appended to users' streams"))
            .increment(by: Int64(emitted))
        registry.makeCounter(descriptor: Self.name("agentrt_events_delivered", "total", "Events sent to SSE and WebSocket clients"))
            .increment(by: Int64(delivered))
        registry.makeCounter(descriptor: Self.name("agentrt_slow_consumer_disconnects", "total",
                                                   "WebSocket clients closed for not keeping up")).increment(by: Int64(slow))
        return registry.emitToString()
    }
}
