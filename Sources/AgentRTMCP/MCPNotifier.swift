import MCP

/// Sends notifications to the client of one server. Holds the server weakly: the server owns
/// the handlers that hold this notifier. A notification that cannot be sent (the client left)
/// is dropped: the run it describes goes on and ends as usual.
struct MCPNotifier: Sendable {
    private final class Box: @unchecked Sendable {
        // Set once, before the server starts; read only afterwards.
        weak var server: Server?
    }
    private let box = Box()

    init() {}

    func attach(_ server: Server) { box.server = server }

    func progress(token: ProgressToken, progress: Double, message: String) async {
        guard let server = box.server else { return }
        try? await server.notify(ProgressNotification.message(.init(progressToken: token, progress: progress,
                                                                    message: message)))
    }

    func log(level: LogLevel, data: Value) async {
        guard let server = box.server else { return }
        try? await server.log(level: level, logger: "agentrt", data: data)
    }
}
