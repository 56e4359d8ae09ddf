import MCP
import SystemPackage

extension AgentRTMCPService {
    /// Serves MCP over stdio: newline-delimited JSON-RPC read from `input` and written to
    /// `output` until `input` ends. `agentrt mcp` passes the CLI's private stdout descriptor
    /// as `output` (fd 1 goes to stderr while plugins run, so a plugin's `printf` can never
    /// corrupt the protocol). The transport makes both descriptors non-blocking.
    public func serveStdio(input: Int32 = 0, output: Int32) async throws {
        let transport = StdioTransport(input: FileDescriptor(rawValue: input), output: FileDescriptor(rawValue: output))
        try await serve(transport: transport)
    }
}
