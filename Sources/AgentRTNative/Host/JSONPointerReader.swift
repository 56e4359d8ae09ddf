import AgentRTCore

/// Finds the value an RFC 6901 JSON Pointer names inside JSON text, without building a tree:
/// the text is validated once (the runtime's own validator: duplicate keys, UTF-8, depth), then
/// scanned, skipping what the pointer does not enter. Backs the ABI 1.1 host accessors.
struct JSONPointerReader {
    enum Failure: Error { case invalidJSON, invalidPointer, notFound }

    let bytes: UnsafeRawBufferPointer

    /// The byte range of the value at `pointer`.
    func find(_ pointer: UnsafeRawBufferPointer) throws(Failure) -> Range<Int> {
        guard JSONValue.isValid(bytes: bytes) else { throw .invalidJSON }
        let tokens = try Self.tokens(pointer)
        var i = skipSpace(0)
        for token in tokens {
            guard i < bytes.count else { throw .notFound }
            switch bytes[i] {
            case UInt8(ascii: "{"): i = try member(token, inObjectAt: i)
            case UInt8(ascii: "["): i = try element(token, inArrayAt: i)
            default: throw .notFound
            }
        }
        return i..<skipValue(i)
    }

    /// The pointer's reference tokens, unescaped (`~1` → `/`, `~0` → `~`).
    static func tokens(_ p: UnsafeRawBufferPointer) throws(Failure) -> [[UInt8]] {
        if p.isEmpty { return [] }
        guard p[0] == UInt8(ascii: "/") else { throw .invalidPointer }
        var out: [[UInt8]] = [[]]
        var i = 1
        while i < p.count {
            let b = p[i]
            if b == UInt8(ascii: "/") { out.append([]) }
            else if b == UInt8(ascii: "~") {
                guard i + 1 < p.count else { throw .invalidPointer }
                switch p[i + 1] {
                case UInt8(ascii: "0"): out[out.count - 1].append(UInt8(ascii: "~"))
                case UInt8(ascii: "1"): out[out.count - 1].append(UInt8(ascii: "/"))
                default: throw .invalidPointer
                }
                i += 1
            } else { out[out.count - 1].append(b) }
            i += 1
        }
        return out
    }

    private func skipSpace(_ start: Int) -> Int {
        var i = start
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// The index just past the string starting at `i` (a quote).
    private func skipString(_ start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
            if bytes[i] == UInt8(ascii: "\"") { return i + 1 }
            i += 1
        }
        return i
    }

    /// The index just past the (valid) value starting at `i`.
    func skipValue(_ start: Int) -> Int {
        let b = bytes[start]
        if b == UInt8(ascii: "\"") { return skipString(start) }
        if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
            var depth = 0, i = start
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i = skipString(i); continue }
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1; if depth == 0 { return i + 1 } }
                i += 1
            }
            return i
        }
        var i = start
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { break }
            i += 1
        }
        return i
    }

    private func member(_ key: [UInt8], inObjectAt start: Int) throws(Failure) -> Int {
        var i = skipSpace(start + 1)
        while i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            let keyEnd = skipString(i)
            let matches = decodeString(i..<keyEnd).map { $0 == key } ?? false
            i = skipSpace(keyEnd)          // at ':'
            i = skipSpace(i + 1)           // at the value
            if matches { return i }
            i = skipSpace(skipValue(i))    // at ',' or '}'
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) } else { break }
        }
        throw .notFound
    }

    private func element(_ token: [UInt8], inArrayAt start: Int) throws(Failure) -> Int {
        // An array index: "0" or digits without a leading zero.
        guard !token.isEmpty, token.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), token.count == 1 || token[0] != 0x30,
              token.count <= 18 else { throw .notFound }
        var want = 0
        for d in token { want = want * 10 + Int(d - 0x30) }
        var i = skipSpace(start + 1)
        var index = 0
        while i < bytes.count, bytes[i] != UInt8(ascii: "]") {
            if index == want { return i }
            i = skipSpace(skipValue(i))
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) } else { break }
            index += 1
        }
        throw .notFound
    }

    /// The unescaped bytes of the (valid) string token in `r`, quotes included in `r`.
    func decodeString(_ r: Range<Int>) -> [UInt8]? {
        var s = [UInt8]()
        var i = r.lowerBound + 1
        let end = r.upperBound - 1
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= end else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = bytes[at + k]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x37)
                case 0x61...0x66: d = UInt32(c - 0x57)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while i < end {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\") else { s.append(b); i += 1; continue }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): s.append(0x0A)
            case UInt8(ascii: "t"): s.append(0x09)
            case UInt8(ascii: "r"): s.append(0x0D)
            case UInt8(ascii: "b"): s.append(0x08)
            case UInt8(ascii: "f"): s.append(0x0C)
            case UInt8(ascii: "u"):
                guard var v = hex4(i) else { return nil }
                i += 4
                if v >= 0xD800 && v < 0xDC00, i + 6 <= end, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                   let lo = hex4(i + 2), lo >= 0xDC00 && lo < 0xE000 {
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
                }
                guard let scalar = Unicode.Scalar(v) else { return nil }
                s.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: s.append(e)   // \" \\ \/
            }
        }
        return s
    }
}
