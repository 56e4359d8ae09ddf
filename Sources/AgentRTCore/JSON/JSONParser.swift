// Strict RFC 8259 parser working directly on UTF-8 bytes. One generic
// implementation serves both `parse` and `isValid`, so both accept exactly the
// same inputs; the validating instantiation simply never materialises values.
// Stricter than RFC 8259 in one way: an object may not repeat a key (compared by
// exact bytes after unescaping), because a C tool reading the raw text and the
// runtime reading the parsed value must not see different members.

/// Describes why JSON text was rejected and where.
public struct JSONError: Error, Sendable, CustomStringConvertible {
    /// Byte offset (into the UTF-8 input) where the problem was found.
    public let offset: Int
    /// What was wrong, e.g. "expected ',' or '}' after object member".
    public let message: String

    /// Creates an error at `offset` with `message`.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// "invalid JSON at byte 12: expected ',' or '}' after object member".
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension JSONValue {
    /// Maximum nesting of arrays and objects; deeper input is rejected rather than
    /// risking a stack overflow in the recursive parser.
    public static let maximumDepth = 256

    /// Parses `text` as exactly one JSON value surrounded by optional whitespace.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        var copy = text
        let result = copy.withUTF8 { buf in
            Result { () throws(JSONError) in try parse(bytes: UnsafeRawBufferPointer(buf)) }
        }
        return try result.get()
    }

    /// Parses UTF-8 `bytes` as exactly one JSON value; invalid UTF-8 is an error.
    public static func parse(bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        var parser = _JSONParser<_JSONBuildMode>(bytes)
        return try parser.parseDocument()
    }

    /// Returns whether `bytes` is valid JSON, with the same strictness as `parse(bytes:)`
    /// but without building any values.
    public static func isValid(bytes: UnsafeRawBufferPointer) -> Bool {
        (try? checkSyntax(bytes: bytes)) != nil
    }

    /// Checks that `bytes` is valid JSON (as `isValid(bytes:)`), throwing the same precise error
    /// `parse(bytes:)` would (offset, depth limit, lone surrogate, duplicate key, bad UTF-8).
    public static func checkSyntax(bytes: UnsafeRawBufferPointer) throws(JSONError) {
        var parser = _JSONParser<_JSONValidateMode>(bytes)
        _ = try parser.parseDocument()
    }

    /// Checks that `text` is valid JSON (see `checkSyntax(bytes:)`).
    public static func checkSyntax(_ text: String) throws(JSONError) {
        var copy = text
        let result = copy.withUTF8 { buf in
            Result { () throws(JSONError) in try checkSyntax(bytes: UnsafeRawBufferPointer(buf)) }
        }
        try result.get()
    }

    /// Returns whether `text` is valid JSON (see `isValid(bytes:)`).
    public static func isValid(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { isValid(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Selects at compile time whether the parser builds values or only validates.
protocol _JSONParseMode { static var buildsValues: Bool { get } }
enum _JSONBuildMode: _JSONParseMode { static var buildsValues: Bool { true } }
enum _JSONValidateMode: _JSONParseMode { static var buildsValues: Bool { false } }

/// Byte constants and the token scanners shared with `JSONNumber(literal:)`.
enum _JSONScan {
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ","), colon = UInt8(ascii: ":")
    static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    static let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9"), minus = UInt8(ascii: "-")

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= zero && c <= nine }

    /// Value of a hex digit, or nil.
    @inline(__always) static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case zero...nine: UInt32(c - zero)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// The 4-hex-digit code unit at `i`, or nil if not present.
    static func hex4(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32? {
        guard i + 4 <= b.count, let a = hexValue(b[i]), let c = hexValue(b[i + 1]),
              let d = hexValue(b[i + 2]), let e = hexValue(b[i + 3]) else { return nil }
        return a << 12 | c << 8 | d << 4 | e
    }

    /// Scans a number starting at `start`; returns the index just past it.
    static func number(_ b: UnsafeRawBufferPointer, from start: Int) throws(JSONError) -> Int {
        let n = b.count
        var i = start
        if i < n && b[i] == minus { i += 1 }
        guard i < n, isDigit(b[i]) else {
            throw JSONError(offset: i, message: "invalid number: expected a digit" + (i > start ? " after '-'" : ""))
        }
        let first = i
        while i < n && isDigit(b[i]) { i += 1 }
        if b[first] == zero && i - first > 1 {
            throw JSONError(offset: start, message: "invalid number: leading zeros are not allowed")
        }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, isDigit(b[i]) else {
                throw JSONError(offset: i, message: "invalid number: expected a digit after the decimal point")
            }
            while i < n && isDigit(b[i]) { i += 1 }
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == minus) { i += 1 }
            guard i < n, isDigit(b[i]) else {
                throw JSONError(offset: i, message: "invalid number: expected a digit in the exponent")
            }
            while i < n && isDigit(b[i]) { i += 1 }
        }
        return i
    }

    /// Human-readable name of the byte at `i` for error messages.
    static func describe(_ b: UnsafeRawBufferPointer, _ i: Int) -> String {
        guard i < b.count else { return "end of input" }
        let c = b[i]
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + hex2(c)
    }

    static func hex2(_ c: UInt8, lowercase: Bool = false) -> String {
        let digits = Array(lowercase ? "0123456789abcdef" : "0123456789ABCDEF")
        return String([digits[Int(c >> 4)], digits[Int(c & 0xF)]])
    }
}

/// Recursive-descent parser over a byte buffer; `Mode` decides whether values are built.
struct _JSONParser<Mode: _JSONParseMode> {
    typealias S = _JSONScan
    let b: UnsafeRawBufferPointer
    var pos = 0
    var depth = 0
    /// The key stack (see JSONParser+Keys.swift): entries, capacity, used count, and whether
    /// the entries outgrew the stack-allocated buffer.
    var keyEntries = UnsafeMutablePointer<_JSONKeyEntry>(bitPattern: MemoryLayout<_JSONKeyEntry>.alignment)!
    var keyCapacity = 0
    var keyCount = 0
    var keysOnHeap = false
    /// Buffers holding escaped keys once decoded; freed when the document is done.
    var decodedKeys: [UnsafeMutableRawBufferPointer] = []

    init(_ bytes: UnsafeRawBufferPointer) { b = bytes }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        try withKeyStack { parser throws(JSONError) in
            parser.skipWhitespace()
            let value = try parser.parseValue()
            parser.skipWhitespace()
            if parser.pos < parser.b.count { throw parser.unexpected("unexpected data after the JSON value") }
            return value
        }
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < b.count {
            switch b[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    /// Error for the byte at `pos`, with a specific message for common non-JSON syntax.
    func unexpected(_ expectation: String) -> JSONError {
        guard pos < b.count else {
            return JSONError(offset: pos, message: "unexpected end of input: \(expectation)")
        }
        if b[pos] == S.slash, pos + 1 < b.count, b[pos + 1] == S.slash || b[pos + 1] == UInt8(ascii: "*") {
            return JSONError(offset: pos, message: "comments are not allowed")
        }
        return JSONError(offset: pos, message: "\(expectation), found \(S.describe(b, pos))")
    }

    mutating func parseValue() throws(JSONError) -> JSONValue {
        guard pos < b.count else { throw unexpected("expected a value") }
        switch b[pos] {
        case S.openBrace: return try parseObject()
        case S.openBracket: return try parseArray()
        case S.quote:
            let s = try parseString()
            return Mode.buildsValues ? .string(s) : .null
        case S.minus, S.zero...S.nine:
            let start = pos
            pos = try S.number(b, from: pos)
            guard Mode.buildsValues else { return .null }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<pos]), as: UTF8.self)
            return .number(JSONNumber(uncheckedText: text))
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            throw invalidLiteral()  // NaN, Infinity, undefined, bare words
        default:
            throw unexpected("expected a value")
        }
    }

    /// Consumes `word` or throws naming the bare word actually found.
    mutating func literal(_ word: StaticString) throws(JSONError) {
        let len = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { w in
            pos + len <= b.count && (0..<len).allSatisfy { b[pos + $0] == w[$0] }
        }
        guard matches else { throw invalidLiteral() }
        pos += len
    }

    /// Error for a bare word at `pos` that is not true/false/null.
    func invalidLiteral() -> JSONError {
        var end = pos
        while end < b.count, end - pos < 32 {
            let c = b[end] | 0x20  // ASCII lowercase
            guard (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || S.isDigit(b[end]) else { break }
            end += 1
        }
        let found = String(decoding: UnsafeRawBufferPointer(rebasing: b[pos..<end]), as: UTF8.self)
        return JSONError(offset: pos, message: "invalid literal \"\(found)\" (expected true, false, null, "
            + "a number, a string, an array or an object; NaN and Infinity are not JSON)")
    }

    mutating func enterContainer() throws(JSONError) {
        depth += 1
        if depth > JSONValue.maximumDepth {
            throw JSONError(offset: pos, message: "nesting depth exceeds the limit of \(JSONValue.maximumDepth)")
        }
        pos += 1
    }

    mutating func parseArray() throws(JSONError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var elements: [JSONValue] = []
        skipWhitespace()
        if pos < b.count && b[pos] == S.closeBracket { pos += 1; return .array(elements) }
        while true {
            let element = try parseValue()
            if Mode.buildsValues { elements.append(element) }
            skipWhitespace()
            guard pos < b.count else { throw unexpected("expected ',' or ']' after array element") }
            if b[pos] == S.closeBracket { pos += 1; return .array(elements) }
            guard b[pos] == S.comma else { throw unexpected("expected ',' or ']' after array element") }
            pos += 1
            skipWhitespace()
            if pos < b.count && b[pos] == S.closeBracket {
                throw JSONError(offset: pos, message: "trailing comma in array")
            }
        }
    }

    mutating func parseObject() throws(JSONError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var object = JSONObject()
        // Both modes check duplicates on decoded key bytes, so `parse` and `isValid` refuse
        // exactly the same texts.
        let keyBase = keyCount
        var keySet: Set<_JSONKeyBytes>? = nil
        defer { keyCount = keyBase }
        skipWhitespace()
        if pos < b.count && b[pos] == S.closeBrace { pos += 1; return .object(object) }
        while true {
            guard pos < b.count, b[pos] == S.quote else { throw unexpected("expected a string key") }
            let key = try parseKey(keyBase: keyBase, set: &keySet)
            skipWhitespace()
            guard pos < b.count, b[pos] == S.colon else { throw unexpected("expected ':' after object key") }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            if Mode.buildsValues { object.appendNew(key, value) }  // parseKey refused a repeat
            skipWhitespace()
            guard pos < b.count else { throw unexpected("expected ',' or '}' after object member") }
            if b[pos] == S.closeBrace { pos += 1; return .object(object) }
            guard b[pos] == S.comma else { throw unexpected("expected ',' or '}' after object member") }
            pos += 1
            skipWhitespace()
            if pos < b.count && b[pos] == S.closeBrace {
                throw JSONError(offset: pos, message: "trailing comma in object")
            }
        }
    }
}
