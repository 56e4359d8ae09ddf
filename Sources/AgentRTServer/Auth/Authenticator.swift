import Hummingbird

/// Finds who a request acts as: `Authorization: Bearer TOKEN`, or (for SSE and WebSocket, where
/// browsers cannot set headers) `?access_token=TOKEN`. Anything else is 401.
struct Authenticator: Sendable {
    let tokens: TokenStore

    func principal(_ request: Request, allowQueryToken: Bool = false) throws(APIError) -> Principal {
        if let header = request.headers[.authorization] {
            guard let token = Self.bearer(header) else {
                throw APIError.unauthorized("the Authorization header must be `Bearer TOKEN`")
            }
            guard let p = tokens.principal(for: token) else { throw APIError.unauthorized("unknown token") }
            return p
        }
        if allowQueryToken, let q = request.uri.queryParameters["access_token"] {
            guard let p = tokens.principal(for: String(q)) else { throw APIError.unauthorized("unknown token") }
            return p
        }
        throw APIError.unauthorized(allowQueryToken
            ? "send `Authorization: Bearer TOKEN` or ?access_token=TOKEN"
            : "send `Authorization: Bearer TOKEN`")
    }

    func admin(_ request: Request) throws(APIError) -> Principal {
        let p = try principal(request)
        guard p.isAdmin else { throw APIError(.forbidden, "forbidden", "this endpoint needs an admin token") }
        return p
    }

    /// The token of `Bearer TOKEN` (scheme case-insensitive), nil for another scheme.
    static func bearer(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: " ")
        return token.isEmpty ? nil : token
    }
}

extension Substring {
    func trimmingCharacters(in c: Character) -> String {
        var s = self
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
