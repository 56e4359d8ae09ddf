/// The rules every id of a `UserExecutionContext` must pass (GUARDS.md).
public enum ContextValidation {
    public static let maxIDBytes = 256
    /// Values that look like an id but are a forgotten default; refused in any case, after trimming.
    public static let placeholders: Set<String> = [
        "none", "null", "nil", "undefined", "placeholder", "default", "test", "unknown", "0", "-",
    ]

    /// Returns why `value` is not an acceptable id for `field`, or nil when it is.
    public static func problem(with value: String, field: String) -> String? {
        if value.isEmpty { return "\(field) is empty" }
        let bytes = value.utf8.count
        if bytes > maxIDBytes { return "\(field) is \(bytes) bytes long (at most \(maxIDBytes))" }
        for s in value.unicodeScalars where s.properties.generalCategory == .control {
            return "\(field) contains the control character U+\(String(s.value, radix: 16, uppercase: true))"
        }
        let trimmed = value.trimmingASCIIWhitespace().lowercased()
        if trimmed.isEmpty { return "\(field) is only whitespace" }
        if placeholders.contains(trimmed) {
            return "\(field) is the placeholder value \"\(value)\"; pass the real id"
        }
        return nil
    }

    /// Validates `value` or throws `invalid_context` naming the field and the reason.
    public static func check(_ value: String, field: String) throws(AgentRTError) {
        if let p = problem(with: value, field: field) { throw AgentRTError(.invalidContext, p) }
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let u = utf8
        var start = u.startIndex, end = u.endIndex
        func ws(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        while start < end, ws(u[start]) { start = u.index(after: start) }
        while end > start, ws(u[u.index(before: end)]) { end = u.index(before: end) }
        return String(self[start..<end])
    }
}
