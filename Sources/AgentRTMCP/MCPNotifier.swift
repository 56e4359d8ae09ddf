import AgentRTCore
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
    /// The lowest level the client asked for (`logging/setLevel`); nil: every level.
    private let minimumLevel = Locked<LogLevel?>(nil)

    init() {}

    func attach(_ server: Server) { box.server = server }

    func progress(token: ProgressToken, progress: Double, message: String) async {
        guard let server = box.server else { return }
        try? await server.notify(ProgressNotification.message(.init(progressToken: token, progress: progress,
                                                                    message: message)))
    }

    /// `logging/setLevel`.
    func setMinimumLevel(_ level: LogLevel) { minimumLevel.withLock { $0 = level } }

    func log(level: LogLevel, data: Value) async {
        if let min = minimumLevel.withLock({ $0 }), Self.rank(level) < Self.rank(min) { return }
        guard let server = box.server else { return }
        try? await server.log(level: level, logger: "agentrt", data: data)
    }

    /// Severity order: the spec's (syslog) order, as `LogLevel` declares its cases.
    static func rank(_ l: LogLevel) -> Int { LogLevel.allCases.firstIndex(of: l) ?? 0 }
}
