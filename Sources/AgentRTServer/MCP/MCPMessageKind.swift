import Foundation

/// What the HTTP bridge needs to know of one JSON-RPC message, to route around the SDK: which
/// request a POST's stream answers, which progress token belongs to it, which request a
/// `notifications/cancelled` ends. The JSON-RPC layer itself stays the SDK's.
///
/// Ids and tokens are keys as text that keeps their JSON type (`1` and `"1"` differ).
enum MCPMessageKind: Sendable, Equatable {
    case request(id: String, method: String, progressToken: String?)
    case notification(method: String, cancelledRequest: String?)
    case response(id: String)
    /// Not one JSON-RPC object (a batch, not JSON): the SDK answers it.
    case other

    init(_ data: Data?) {
        guard let data, let m = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            self = .other
            return
        }
        let id = m["id"].flatMap(Self.key)
        if let method = m["method"] as? String {
            let params = m["params"] as? [String: Any]
            if let id {
                let meta = params?["_meta"] as? [String: Any]
                self = .request(id: id, method: method, progressToken: meta?["progressToken"].flatMap(Self.key))
            } else {
                let cancelled = method == "notifications/cancelled" ? params?["requestId"].flatMap(Self.key) : nil
                self = .notification(method: method, cancelledRequest: cancelled)
            }
        } else if let id, m["result"] != nil || m["error"] != nil {
            self = .response(id: id)
        } else {
            self = .other
        }
    }

    var isInitialize: Bool {
        if case .request(_, let method, _) = self { return method == "initialize" }
        return false
    }

    var isNotification: Bool {
        if case .notification = self { return true }
        return false
    }

    /// The progress token of a `notifications/progress`, as a key.
    static func progressToken(ofNotification data: Data) -> String? {
        guard let m = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], m["id"] == nil,
              (m["method"] as? String) == "notifications/progress",
              let params = m["params"] as? [String: Any] else { return nil }
        return params["progressToken"].flatMap(key)
    }

    /// An id or token as a key: `s:` and the string, or `n:` and the integer.
    static func key(_ value: Any) -> String? {
        if let s = value as? String { return "s:" + s }
        if let n = value as? NSNumber { return "n:" + n.stringValue }
        return nil
    }
}
