// JSON text output: compact and pretty-printed forms. Object members are written
// in insertion order; numbers are written from their stored literal text.

extension JSONValue: CustomStringConvertible {
    /// The compact serialization (same as `serialized()`).
    public var description: String { serialized() }

    /// Compact JSON text: no whitespace, object members in insertion order.
    public func serialized() -> String {
        var out = ""
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Multi-line JSON text indented by `indent` spaces per level, with `": "` after keys.
    /// Empty arrays and objects print as `[]` and `{}`.
    public func prettyPrinted(indent: Int = 2) -> String {
        var out = ""
        write(to: &out, indent: max(0, indent), level: 0)
        return out
    }

    /// Appends `s` as a JSON string literal: quotes it, escapes `"`, `\` and control
    /// characters below U+0020 (`\n \r \t \b \f`, otherwise `\u00XX`), and leaves all
    /// other Unicode untouched.
    public static func appendQuoted(_ s: String, to out: inout String) {
        // Fast path: most strings (ids, names) need no escaping and are appended whole.
        var copy = s
        let clean = copy.withUTF8 { b in
            for c in b where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { return false }
            return true
        }
        if clean {
            out.append("\"")
            out.append(s)
            out.append("\"")
            return
        }
        out.append("\"")
        let utf8 = s.utf8
        var runStart = utf8.startIndex
        var i = runStart
        while i != utf8.endIndex {
            let c = utf8[i]
            if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                utf8.formIndex(after: &i)
                continue
            }
            // Escaped bytes are ASCII, so run boundaries are always scalar boundaries.
            if runStart != i { out.append(contentsOf: s[runStart..<i]) }
            switch c {
            case UInt8(ascii: "\""): out.append("\\\"")
            case UInt8(ascii: "\\"): out.append("\\\\")
            case 0x0A: out.append("\\n")
            case 0x0D: out.append("\\r")
            case 0x09: out.append("\\t")
            case 0x08: out.append("\\b")
            case 0x0C: out.append("\\f")
            default: out.append("\\u00" + _JSONScan.hex2(c, lowercase: true))  // as JSON.stringify writes it
            }
            utf8.formIndex(after: &i)
            runStart = i
        }
        if runStart != i { out.append(contentsOf: s[runStart..<i]) }
        out.append("\"")
    }

    /// Writes this value; `indent == nil` selects the compact form.
    private func write(to out: inout String, indent: Int?, level: Int) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let n): out.append(n.text)
        case .string(let s): Self.appendQuoted(s, to: &out)
        case .array(let elements):
            if elements.isEmpty { out.append("[]"); return }
            out.append("[")
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(",") }
                Self.newline(&out, indent, level + 1)
                element.write(to: &out, indent: indent, level: level + 1)
            }
            Self.newline(&out, indent, level)
            out.append("]")
        case .object(let object):
            if object.isEmpty { out.append("{}"); return }
            out.append("{")
            var first = true
            for (key, value) in object {
                if !first { out.append(",") }
                first = false
                Self.newline(&out, indent, level + 1)
                Self.appendQuoted(key, to: &out)
                out.append(indent == nil ? ":" : ": ")
                value.write(to: &out, indent: indent, level: level + 1)
            }
            Self.newline(&out, indent, level)
            out.append("}")
        }
    }

    /// In pretty mode, starts a new line indented to `level`.
    private static func newline(_ out: inout String, _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append("\n")
        out.append(String(repeating: " ", count: indent * level))
    }
}

extension JSONObject: CustomStringConvertible {
    /// The compact serialization of the object.
    public var description: String { JSONValue.object(self).serialized() }
}
