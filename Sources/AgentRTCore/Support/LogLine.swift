/// Log lines the runtime writes: one line each, with every control character escaped, so a
/// plugin's message cannot forge log lines (newlines) or drive a terminal (ANSI escapes).
public enum LogLine {
    /// Level names, 0 (trace) … 4 (error); 5 is "off".
    public static let names = ["trace", "debug", "info", "warn", "error", "off"]

    /// The level named `name` (trace, debug, info, warn, error, off), or nil.
    public static func level(named name: String) -> Int32? {
        names.firstIndex(of: name.lowercased()).map { Int32($0) }
    }

    /// `text` with C0 controls, DEL and C1 controls escaped (`\n`, `\t`, `\r`, `\u{1B}` …).
    public static func sanitize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for u in text.unicodeScalars {
            guard isControl(u) else { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "\\u{" + hex + "}"
            }
        }
        return out
    }

    @inline(__always)
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || u.value == 0x7F || (u.value >= 0x80 && u.value <= 0x9F)
    }
}
