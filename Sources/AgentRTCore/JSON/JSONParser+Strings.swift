// String scanning for the parser: escapes, strict UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF) and decoding of validated string bodies.

extension _JSONParser {
    /// Validates the string starting at the opening quote at `pos` and returns its
    /// decoded contents ("" when only validating).
    mutating func parseString() throws(JSONError) -> String {
        let (start, end, hasEscapes) = try scanString()
        guard Mode.buildsValues else { return "" }
        let raw = UnsafeRawBufferPointer(rebasing: b[start..<end])
        // Already validated, so decoding cannot hit a replacement path.
        return hasEscapes ? Self.decodeEscaped(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// Validates the string at `pos` (its opening quote) and moves past it; returns the byte
    /// range of its body and whether the body holds escapes.
    mutating func scanString() throws(JSONError) -> (start: Int, end: Int, hasEscapes: Bool) {
        let open = pos
        let start = pos + 1
        var i = start
        var hasEscapes = false
        while true {
            guard i < b.count else {
                throw JSONError(offset: open, message: "unterminated string (missing closing '\"')")
            }
            let c = b[i]
            if c == S.quote { break }
            if c == S.backslash {
                hasEscapes = true
                i = try scanEscape(at: i, open: open)
            } else if c < 0x20 {
                throw JSONError(offset: i, message: "unescaped control character 0x\(S.hex2(c)) in string")
            } else if c < 0x80 {
                i += 1
            } else {
                i = try scanUTF8(at: i)
            }
        }
        pos = i + 1
        return (start, i, hasEscapes)
    }

    /// Validates one escape at `i` (the backslash); returns the index after it.
    func scanEscape(at i: Int, open: Int) throws(JSONError) -> Int {
        guard i + 1 < b.count else {
            throw JSONError(offset: open, message: "unterminated string (missing closing '\"')")
        }
        switch b[i + 1] {
        case S.quote, S.backslash, S.slash, UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i + 2
        case UInt8(ascii: "u"):
            guard let unit = S.hex4(b, i + 2) else {
                throw JSONError(offset: i, message: "invalid \\u escape: expected 4 hex digits")
            }
            let hex = "\\u" + S.hex2(UInt8(unit >> 8)) + S.hex2(UInt8(unit & 0xFF))
            switch unit {
            case 0xD800...0xDBFF:
                guard i + 7 < b.count, b[i + 6] == S.backslash, b[i + 7] == UInt8(ascii: "u"),
                      let low = S.hex4(b, i + 8), (0xDC00...0xDFFF).contains(low) else {
                    throw JSONError(offset: i, message: "lone surrogate \(hex) in string "
                        + "(a high surrogate must be followed by a \\uDC00-\\uDFFF low surrogate)")
                }
                return i + 12
            case 0xDC00...0xDFFF:
                throw JSONError(offset: i, message: "lone surrogate \(hex) in string "
                    + "(a low surrogate must follow a high surrogate)")
            default:
                return i + 6
            }
        default:
            let c = b[i + 1]
            let shown = c >= 0x20 && c < 0x7F ? String(Character(Unicode.Scalar(c))) : "<0x\(S.hex2(c))>"
            throw JSONError(offset: i, message: "invalid escape sequence '\\\(shown)' in string "
                + "(allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `i`; returns the index after it.
    /// Rejects overlong forms, UTF-16 surrogates and code points above U+10FFFF.
    func scanUTF8(at i: Int) throws(JSONError) -> Int {
        @inline(__always) func at(_ j: Int) -> UInt8 { j < b.count ? b[j] : 0 }
        @inline(__always) func cont(_ j: Int) -> Bool { at(j) & 0xC0 == 0x80 }
        let lead = b[i]
        let ok: Bool
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2; ok = cont(i + 1)
        case 0xE0: length = 3; ok = (0xA0...0xBF).contains(at(i + 1)) && cont(i + 2)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3; ok = cont(i + 1) && cont(i + 2)
        case 0xED: length = 3; ok = (0x80...0x9F).contains(at(i + 1)) && cont(i + 2)
        case 0xF0: length = 4; ok = (0x90...0xBF).contains(at(i + 1)) && cont(i + 2) && cont(i + 3)
        case 0xF1...0xF3: length = 4; ok = cont(i + 1) && cont(i + 2) && cont(i + 3)
        case 0xF4: length = 4; ok = (0x80...0x8F).contains(at(i + 1)) && cont(i + 2) && cont(i + 3)
        default: length = 1; ok = false
        }
        guard ok else {
            throw JSONError(offset: i, message: "invalid UTF-8 byte sequence in string (lead byte 0x\(S.hex2(lead)))")
        }
        return i + length
    }

    /// Decodes a validated string body containing escapes. The decoded form is never
    /// longer than the escaped form, so `raw.count` is a safe capacity.
    static func decodeEscaped(_ raw: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: raw.count) { decodeEscaped(raw, into: $0) }
    }

    /// Decodes a validated string body into `out` (at least `raw.count` bytes); returns the length.
    static func decodeEscaped(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var o = 0, j = 0
        while j < raw.count {
            let c = raw[j]
            guard c == S.backslash else { out[o] = c; o += 1; j += 1; continue }
            let e = raw[j + 1]
            j += 2
            var byte: UInt8
            switch e {
            case UInt8(ascii: "b"): byte = 0x08
            case UInt8(ascii: "f"): byte = 0x0C
            case UInt8(ascii: "n"): byte = 0x0A
            case UInt8(ascii: "r"): byte = 0x0D
            case UInt8(ascii: "t"): byte = 0x09
            case UInt8(ascii: "u"):
                var scalar = S.hex4(raw, j)!
                j += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = S.hex4(raw, j + 2)!
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                o = encodeUTF8(scalar, into: out, at: o)
                continue
            default: byte = e  // '"', '\\', '/'
            }
            out[o] = byte
            o += 1
        }
        return o
    }

    /// Writes `scalar` (a valid, non-surrogate code point) as UTF-8; returns the new end.
    @inline(__always)
    static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at o: Int) -> Int {
        if scalar < 0x80 { out[o] = UInt8(scalar); return o + 1 }
        let count = scalar < 0x800 ? 2 : scalar < 0x10000 ? 3 : 4
        let lead: UInt32 = count == 2 ? 0xC0 : count == 3 ? 0xE0 : 0xF0
        out[o] = UInt8(lead | scalar >> UInt32(6 * (count - 1)))
        for k in 1..<count { out[o + k] = UInt8(0x80 | scalar >> UInt32(6 * (count - 1 - k)) & 0x3F) }
        return o + count
    }
}
