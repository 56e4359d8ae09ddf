import AgentRTCore
import AgentRTMCP
import Foundation
import HTTPTypes
import Hummingbird
import MCP

/// `/mcp`: MCP's Streamable HTTP transport (protocol 2025-11-25). POST carries a JSON-RPC
/// request (answered by an SSE stream: progress, then the response) or a notification (202);
/// GET opens the session's stream of server messages; DELETE ends the session.
///
/// This is only the bridge between Hummingbird and the SDK's `StatefulHTTPServerTransport`
/// (framework-neutral requests and responses; the JSON-RPC layer is the SDK's). What is ours:
/// the bearer token decides the user (401 in the API's error format otherwise), each session is
/// bound to that user (another user's session id is 404, as if it did not exist), sessions are
/// bounded and expire (`MCPSessions`), and requests are refused while the server drains.
struct MCPEndpoint: Sendable {
    let state: ServerState
    let auth: Authenticator
    let configuration: ServerConfiguration
    let sessions: MCPSessions

    static let path = "/mcp"

    func register<Context: Hummingbird.RequestContext>(on router: Router<Context>) {
        router.post(RouterPath(Self.path)) { request, _ in try await handle(request) }
        router.get(RouterPath(Self.path)) { request, _ in try await handle(request) }
        router.delete(RouterPath(Self.path)) { request, _ in try await handle(request) }
    }

    /// The SDK's answer to an unknown session id, given also for another user's session.
    static let sessionNotFound = MCP.HTTPResponse.error(statusCode: 404, .invalidRequest("Not Found: Session not found or expired"))

    func handle(_ request: Request) async throws -> Response {
        let who = try auth.principal(request)
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: configuration.maxBodyBytes) } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large",
                           "the request body is larger than the server accepts (\(configuration.maxBodyBytes) bytes)")
        }
        let data = body.readableBytes > 0 ? Data(body.readableBytesView) : nil
        let kind: MCPMessageKind = request.method == .post ? MCPMessageKind(data) : .other
        // While draining, a client may still cancel (a notification) and end its session.
        if state.isDraining && !(request.method == .delete || kind.isNotification) { throw APIError.draining }
        var headers = Self.headers(request.headers)
        // HTTP/1.1's Host is the authority pseudo-header here; the origin check reads it as Host.
        if let authority = request.head.authority { headers["host"] = authority }
        let mcpRequest = MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: data,
                                         path: request.uri.path)

        if let id = request.headers[Self.sessionHeader] {
            guard let session = sessions.session(id, of: who.userID) else { return Self.response(Self.sessionNotFound) }
            let answer = await session.handle(mcpRequest)
            if request.method == .delete, case .plain(let r) = answer, r.statusCode == 200 {
                await sessions.remove(session, reason: "the client ended the MCP session")
            }
            return response(answer, session: session)
        }
        guard request.method == .post, kind.isInitialize else {
            return Self.response(.error(statusCode: 400, .invalidRequest(
                "Bad Request: Missing \(HTTPHeaderName.sessionID) header (a session starts with a POST of initialize)")))
        }
        switch await sessions.create(for: who.userID) {
        case .failure(let refusal):
            return Self.response(Self.refused(refusal, idle: sessions.limits.idleTimeout))
        case .success(let session):
            let answer = await session.handle(mcpRequest)
            if case .plain = answer { await sessions.remove(session, reason: "initialize was refused") }
            return response(answer, session: session)
        }
    }

    static let sessionHeader = HTTPField.Name(HTTPHeaderName.sessionID)!

    /// The limits' answers: JSON-RPC errors, so an MCP client shows the message.
    static func refused(_ r: MCPSessions.Refusal, idle: Duration) -> MCP.HTTPResponse {
        switch r {
        case .tooManyForUser(let limit):
            return .error(statusCode: 429, .invalidRequest(
                "Too Many Requests: this user already has \(limit) MCP sessions (the limit); end one with DELETE /mcp, or wait for an idle one to expire (after \(idle) without a request)"),
                extraHeaders: ["Retry-After": "5"])
        case .tooMany(let limit):
            return .error(statusCode: 503, .internalError(
                "Service Unavailable: the server holds \(limit) MCP sessions (the limit); try again later"),
                extraHeaders: ["Retry-After": "5"])
        case .closing:
            return .error(statusCode: 503, .internalError("Service Unavailable: the server is shutting down"),
                          extraHeaders: ["Retry-After": "5"])
        case .failed(let why):
            return .error(statusCode: 500, .internalError("Failed to create the MCP session: \(why)"))
        }
    }

    /// A session's answer as a Hummingbird response; a stream is copied until it ends or the client
    /// goes away (a keepalive comment every `keepaliveInterval` finds that out).
    func response(_ answer: MCPSession.Answer, session: MCPSession) -> Response {
        switch answer {
        case .plain(let r):
            return Self.response(r)
        case .stream(let headers, let relay):
            let interval = configuration.keepaliveInterval
            let body = ResponseBody { writer in
                let keepalive = relay.keepalive(every: interval)
                defer {
                    keepalive.cancel()
                    relay.finish()
                    session.ended()
                }
                for await chunk in relay.chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                try await writer.finish(nil)
            }
            var fields = Self.fields(headers)
            fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
            return Response(status: .ok, headers: fields, body: body)
        }
    }

    static func response(_ r: MCP.HTTPResponse) -> Response {
        let body = r.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
        var fields = fields(r.headers)
        if r.bodyData != nil { fields[.cacheControl] = "no-store" }
        return Response(status: HTTPTypes.HTTPResponse.Status(code: r.statusCode), headers: fields, body: body)
    }

    static func fields(_ headers: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let n = HTTPField.Name(name) { fields[n] = value }
        }
        return fields
    }

    /// Request headers for the SDK (names lowercased; repeated ones joined with `, `).
    static func headers(_ fields: HTTPFields) -> [String: String] {
        var out: [String: String] = [:]
        for f in fields {
            let name = f.name.canonicalName
            if let v = out[name] { out[name] = v + ", " + f.value } else { out[name] = f.value }
        }
        return out
    }
}
