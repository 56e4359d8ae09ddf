import Synchronization

/// The server's own counts (connections, deliveries, slow-consumer disconnects), never per user:
/// what `/metrics` reports beside the runtime's stats.
public final class ServerCounters: Sendable {
    let openSSE = Atomic<Int>(0)
    let openWebSockets = Atomic<Int>(0)
    let eventsDelivered = Atomic<Int>(0)
    let slowConsumerDisconnects = Atomic<Int>(0)
    let runsAccepted = Atomic<Int>(0)
    let runsRefused = Atomic<Int>(0)

    public init() {}

    func sseOpened() { openSSE.add(1, ordering: .relaxed) }
    func sseClosed() { openSSE.subtract(1, ordering: .relaxed) }
    func webSocketOpened() { openWebSockets.add(1, ordering: .relaxed) }
    func webSocketClosed() { openWebSockets.subtract(1, ordering: .relaxed) }
    func delivered(_ n: Int) { eventsDelivered.add(n, ordering: .relaxed) }
    func slowConsumer() { slowConsumerDisconnects.add(1, ordering: .relaxed) }

    public var openSSEStreams: Int { openSSE.load(ordering: .relaxed) }
    public var openWebSocketConnections: Int { openWebSockets.load(ordering: .relaxed) }
    public var slowConsumerDisconnectCount: Int { slowConsumerDisconnects.load(ordering: .relaxed) }
    public var eventsDeliveredCount: Int { eventsDelivered.load(ordering: .relaxed) }
}
