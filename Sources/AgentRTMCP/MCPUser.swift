/// Whom an MCP connection acts for. Every call of the connection runs for this user through
/// every guard (admission, deadlines, breakers); over stdio it comes from `--user`, over HTTP
/// the bearer token will decide it, one `AgentRTMCPService` per MCP session.
public struct MCPUser: Sendable, Equatable {
    public let userID: String
    /// The session (conversation) the calls belong to; nil: the runtime's default session.
    public let sessionID: String?

    public init(userID: String, sessionID: String? = nil) {
        self.userID = userID
        self.sessionID = sessionID
    }
}
