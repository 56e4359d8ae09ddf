import AgentRTCore
import Hummingbird

/// Every error the HTTP API answers with: a status and the body `{"error":{"code","message"}}`.
/// Thrown from handlers; Hummingbird turns it into the response.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Seconds for `Retry-After` (429 and 503).
    var retryAfter: Int?
    var extraHeaders: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    static func unauthorized(_ why: String) -> APIError {
        var e = APIError(.unauthorized, "unauthorized", why)
        e.extraHeaders[.wwwAuthenticate] = "Bearer"
        return e
    }
    static func badRequest(_ why: String) -> APIError { APIError(.badRequest, "bad_request", why) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", what) }
    static let draining = APIError(.serviceUnavailable, "draining", "the server is shutting down", retryAfter: 5)

    /// The HTTP face of a run refused before it started.
    static func refusal(_ e: AgentRTError, nowMillis: Int64 = MonotonicTime.wallMillis()) -> APIError {
        switch e.code {
        case .notFound: return APIError(.notFound, e.code.rawValue, e.message)
        case .invalidContext: return APIError(.badRequest, e.code.rawValue, e.message)
        case .badArguments: return APIError(.unprocessableContent, e.code.rawValue, e.message)
        case .overloaded: return APIError(.tooManyRequests, e.code.rawValue, e.message, retryAfter: 1)
        case .circuitOpen:
            let wait = e.retryAtMillis.map { max(1, Int(($0 - nowMillis + 999) / 1000)) } ?? 1
            return APIError(.serviceUnavailable, e.code.rawValue, e.message, retryAfter: wait)
        case .quarantined: return APIError(.serviceUnavailable, e.code.rawValue, e.message, retryAfter: 5)
        case .cancelled: return APIError(.serviceUnavailable, e.code.rawValue, e.message, retryAfter: 5)
        default: return APIError(.internalServerError, e.code.rawValue, e.message)
        }
    }

    /// `{"code","message"}` (the value of `"error"`).
    static func object(code: String, message: String) -> String {
        var w = JSONObjectWriter()
        w.string("code", code)
        w.string("message", message)
        return w.finish()
    }

    var body: String {
        var w = JSONObjectWriter()
        w.raw("error", Self.object(code: code, message: message))
        return w.finish()
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = extraHeaders
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return JSONResponse.make(status, body, headers: headers)
    }
}

/// JSON responses from JSON text the handlers build.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status = .ok, _ json: String, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        h[.cacheControl] = "no-store"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}

/// Gives every error, also Hummingbird's own (unknown route, body too large), the JSON error body.
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPError {
            switch e.status {
            case .contentTooLarge: throw APIError(.contentTooLarge, "body_too_large", "the request body is larger than the server accepts")
            case .notFound: throw APIError(.notFound, "not_found", "no such endpoint: \(request.method) \(request.uri.path)")
            case .methodNotAllowed: throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path)")
            default: throw APIError(e.status, "http_\(e.status.code)", e.body ?? e.status.reasonPhrase)
            }
        } catch let e as any HTTPResponseError {
            throw e.status == .contentTooLarge
                ? APIError(.contentTooLarge, "body_too_large", "the request body is larger than the server accepts")
                : APIError(e.status, "http_\(e.status.code)", e.status.reasonPhrase)
        }
    }
}
