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
        var v = value
        // One pass over the UTF-8 bytes (this runs for every call): control characters are
        // C0 (0x00-0x1F), DEL, and C1 (U+0080-U+009F, encoded 0xC2 0x80-0x9F).
        let scan: (bytes: Int, control: UInt32?, first: Int, last: Int, ascii: Bool) = v.withUTF8 { b in
            var control: UInt32? = nil
            var first = -1, last = -1
            var high: UInt8 = 0
            var i = 0
            while i < b.count {
                let c = b[i]
                high |= c
                if c < 0x20 || c == 0x7F { control = UInt32(c); break }
                if c == 0xC2, i + 1 < b.count, b[i + 1] >= 0x80, b[i + 1] <= 0x9F { control = UInt32(b[i + 1]); break }
                if c != 0x20 {   // tabs and newlines are control characters, refused above
                    if first < 0 { first = i }
                    last = i
                }
                i += 1
            }
            return (b.count, control, first, last, high < 0x80)
        }
        if scan.bytes > maxIDBytes { return "\(field) is \(scan.bytes) bytes long (at most \(maxIDBytes))" }
        if let c = scan.control {
            return "\(field) contains the control character U+\(String(c, radix: 16, uppercase: true))"
        }
        if scan.first < 0 { return "\(field) is only whitespace" }
        if scan.first > 0 || scan.last < scan.bytes - 1 {
            return "\(field) has leading or trailing whitespace (\"\(value)\" and its trimmed form would be two different ids)"
        }
        if !scan.ascii, let why = unicodeProblem(value, field: field) { return why }
        // Placeholders are at most 11 bytes once trimmed; only short ids can be one. ASCII ids
        // are compared byte by byte, ignoring case (no lowercase copy, no hashing); others go
        // through Unicode lowercasing (the KELVIN SIGN lowercases to an ASCII "k").
        if scan.last - scan.first < 11 {
            let isPlaceholder = scan.ascii ? v.withUTF8 { asciiPlaceholder($0) }
                : placeholders.contains(value.trimmingASCIIWhitespace().lowercased())
            if isPlaceholder {
                return "\(field) is the placeholder value \"\(value)\"; pass the real id"
            }
        }
        return nil
    }

    private static let placeholderBytes: [[UInt8]] = placeholders.map { Array($0.utf8) }

    /// Whether ASCII `b` is a placeholder, ignoring ASCII case.
    private static func asciiPlaceholder(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for p in placeholderBytes where p.count == b.count {
            var same = true
            for i in 0..<p.count where p[i] != (b[i] >= 0x41 && b[i] <= 0x5A ? b[i] | 0x20 : b[i]) {
                same = false
                break
            }
            if same { return true }
        }
        return false
    }

    /// Non-ASCII ids: no Unicode format characters (zero-width joiners, bidi controls, BOM …:
    /// invisible, so two ids that look the same would be two users) and no leading or trailing
    /// Unicode whitespace. Ids are otherwise compared by their exact UTF-8 bytes, never by
    /// canonical equivalence.
    static func unicodeProblem(_ value: String, field: String) -> String? {
        guard value.utf8.contains(where: { $0 >= 0x80 }) else { return nil }
        let scalars = value.unicodeScalars
        if let f = scalars.first, f.properties.isWhitespace {
            return "\(field) starts with the whitespace character U+\(hex(f))"
        }
        if let l = scalars.last, l.properties.isWhitespace {
            return "\(field) ends with the whitespace character U+\(hex(l))"
        }
        for u in scalars where u.properties.generalCategory == .format {
            return "\(field) contains the invisible format character U+\(hex(u))"
        }
        return nil
    }

    private static func hex(_ u: Unicode.Scalar) -> String {
        let s = String(u.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
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
