import MCP

/// Which browser origins may use `/mcp` (the spec: servers must validate `Origin`, against DNS
/// rebinding). A request without `Origin` (every non-browser client) passes.
///
/// On a loopback listener this is the SDK's `OriginValidator.localhost()` (Host and Origin must
/// be loopback names, any port) widened by the configured origins. On any other listener there is
/// no loopback to protect, so only `Origin` is checked: it must be one of the configured origins.
enum MCPOriginPolicy {
    static func validator(listenHost: String, allowedOrigins: [String]) -> any HTTPRequestValidator {
        guard isLoopback(listenHost) else { return AllowedOriginValidator(origins: allowedOrigins) }
        let local = OriginValidator.localhost()
        // A Host header without a port (port 80, or a client that leaves it out) is loopback too.
        let bareHosts = ["127.0.0.1", "localhost", "[::1]"]
        return OriginValidator(allowedHosts: local.allowedHosts + bareHosts,
                               allowedOrigins: local.allowedOrigins + allowedOrigins)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The validation of every `/mcp` request: the SDK's defaults with this origin policy.
    static func pipeline(listenHost: String, allowedOrigins: [String]) -> any HTTPRequestValidationPipeline {
        StandardValidationPipeline(validators: [
            validator(listenHost: listenHost, allowedOrigins: allowedOrigins),
            AcceptHeaderValidator(mode: .sseRequired),
            ContentTypeValidator(),
            ProtocolVersionValidator(),
            SessionValidator(),
        ])
    }
}

/// `Origin`, when present, must be one of `origins` exactly (403 otherwise, as the SDK answers).
struct AllowedOriginValidator: HTTPRequestValidator {
    let origins: [String]

    func validate(_ request: HTTPRequest, context: HTTPValidationContext) -> HTTPResponse? {
        guard let origin = request.header(HTTPHeaderName.origin) else { return nil }
        if origins.contains(where: { $0.utf8.elementsEqual(origin.utf8) }) { return nil }
        return .error(statusCode: 403, .invalidRequest("Forbidden: Origin not allowed (see --mcp-allow-origin)"),
                      sessionID: context.sessionID)
    }
}
