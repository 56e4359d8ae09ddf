// The regular expressions of JSON Schema `pattern` and `patternProperties`: ECMA-262 syntax
// with the `u` flag (code points, strict escapes), searched (not anchored) over a string's
// Unicode scalars. Only the constructs schemas use are accepted; anything else (lookaround,
// backreferences, flags) is refused when the schema is loaded, never half-understood.

/// Why a pattern was refused: a syntax error or a construct this engine does not implement.
struct _RegexSyntaxError: Error, Sendable {
    /// What is wrong.
    let message: String
    /// Position in the pattern, counted in Unicode scalars from 0.
    let offset: Int
}

/// A parsed pattern. Groups leave no trace (nothing reads captures: there are no
/// backreferences and a schema only asks whether a match exists).
indirect enum _RegexNode: Sendable {
    case empty
    case scalar(UInt32)
    case set(_ScalarSet)
    case assertion(_RegexAssertion)
    case concat([_RegexNode])
    case alternation([_RegexNode])
    case repetition(_RegexNode, min: Int, max: Int?, greedy: Bool)

    /// True when the node can match the empty string (then a loop over it needs a progress check).
    var isNullable: Bool {
        switch self {
        case .empty, .assertion: true
        case .scalar, .set: false
        case .concat(let parts): parts.allSatisfy(\.isNullable)
        case .alternation(let options): options.contains(where: \.isNullable)
        case .repetition(let body, let min, _, _): min == 0 || body.isNullable
        }
    }
}

/// Zero-width tests.
enum _RegexAssertion: Sendable {
    case start, end, wordBoundary, notWordBoundary
}

/// Recursive-descent parser for the accepted ECMA-262 (`u` mode) subset.
struct _RegexParser {
    /// Quantifier bounds above this are refused (the program expands counted repetition).
    static let maximumCount = 1000
    /// Groups nested deeper than this are refused (the parser recurses per group).
    static let maximumNesting = 100

    let scalars: [UInt32]
    var i = 0
    var nesting = 0

    init(_ pattern: String) { scalars = pattern.unicodeScalars.map(\.value) }

    static func parse(_ pattern: String) throws(_RegexSyntaxError) -> _RegexNode {
        var parser = _RegexParser(pattern)
        let node = try parser.disjunction()
        if parser.i < parser.scalars.count {
            // Only a ')' can stop a top-level disjunction early.
            throw parser.error("unmatched ')'")
        }
        return node
    }

    func error(_ message: String, at offset: Int? = nil) -> _RegexSyntaxError {
        _RegexSyntaxError(message: message, offset: offset ?? i)
    }

    var atEnd: Bool { i >= scalars.count }
    func peek(_ ahead: Int = 0) -> UInt32? { i + ahead < scalars.count ? scalars[i + ahead] : nil }
    func at(_ c: Unicode.Scalar, _ ahead: Int = 0) -> Bool { peek(ahead) == c.value }

    mutating func disjunction() throws(_RegexSyntaxError) -> _RegexNode {
        var options = [try alternative()]
        while at("|") {
            i += 1
            options.append(try alternative())
        }
        return options.count == 1 ? options[0] : .alternation(options)
    }

    mutating func alternative() throws(_RegexSyntaxError) -> _RegexNode {
        var parts: [_RegexNode] = []
        while let c = peek(), c != UInt32(ascii: "|"), c != UInt32(ascii: ")") {
            parts.append(try term())
        }
        return parts.isEmpty ? .empty : (parts.count == 1 ? parts[0] : .concat(parts))
    }

    mutating func term() throws(_RegexSyntaxError) -> _RegexNode {
        let start = i
        switch scalars[i] {
        case UInt32(ascii: "^"):
            i += 1
            return try refuseQuantifier(.assertion(.start), "'^'")
        case UInt32(ascii: "$"):
            i += 1
            return try refuseQuantifier(.assertion(.end), "'$'")
        case UInt32(ascii: "\\") where at("b", 1) || at("B", 1):
            let kind: _RegexAssertion = at("b", 1) ? .wordBoundary : .notWordBoundary
            i += 2
            return try refuseQuantifier(.assertion(kind), "\\b or \\B")
        default:
            break
        }
        let atom = try self.atom()
        return try quantified(atom, atomStart: start)
    }

    /// ECMA-262 (`u` mode) forbids quantifying an assertion.
    mutating func refuseQuantifier(_ node: _RegexNode, _ what: String) throws(_RegexSyntaxError) -> _RegexNode {
        if let c = peek(), c == UInt32(ascii: "*") || c == UInt32(ascii: "+") || c == UInt32(ascii: "?")
            || (c == UInt32(ascii: "{") && quantifierBraceAhead()) {
            throw error("nothing to repeat: \(what) is an assertion and cannot take a quantifier")
        }
        return node
    }

    mutating func atom() throws(_RegexSyntaxError) -> _RegexNode {
        let c = scalars[i]
        switch c {
        case UInt32(ascii: "."):
            i += 1
            return .set(.dot)
        case UInt32(ascii: "("):
            return try group()
        case UInt32(ascii: "["):
            return .set(try characterClass())
        case UInt32(ascii: "\\"):
            return try atomEscape()
        case UInt32(ascii: "*"), UInt32(ascii: "+"), UInt32(ascii: "?"):
            throw error("nothing to repeat before '\(Character(Unicode.Scalar(UInt8(c))))'")
        case UInt32(ascii: "{"):
            throw error(quantifierBraceAhead() ? "nothing to repeat before '{'" : "lone '{' (write \\{ for a literal brace)")
        case UInt32(ascii: "}"):
            throw error("lone '}' (write \\} for a literal brace)")
        case UInt32(ascii: "]"):
            throw error("lone ']' (write \\] for a literal bracket)")
        default:
            i += 1
            return .scalar(c)
        }
    }

    mutating func group() throws(_RegexSyntaxError) -> _RegexNode {
        let open = i
        i += 1
        if at("?") {
            if at(":", 1) {
                i += 2
            } else if at("<", 1) && !at("=", 2) && !at("!", 2) {
                i += 2
                try groupName()
            } else if at("=", 1) || at("!", 1) {
                throw error("lookahead groups (?= and (?! are not supported", at: open)
            } else if at("<", 1) {
                throw error("lookbehind groups (?<= and (?<! are not supported", at: open)
            } else {
                throw error("unsupported group syntax '(?' (only (?: and (?<name> groups are supported)", at: open)
            }
        }
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Self.maximumNesting {
            throw error("groups nest deeper than \(Self.maximumNesting) levels", at: open)
        }
        let inner = try disjunction()
        guard at(")") else { throw error("unterminated group (missing ')')", at: open) }
        i += 1
        return inner
    }

    /// The `name>` of a named group: an identifier (ASCII letters, digits, `_`, `$`).
    mutating func groupName() throws(_RegexSyntaxError) {
        let start = i
        func isStart(_ c: UInt32) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt32(ascii: "_") || c == UInt32(ascii: "$")
        }
        while let c = peek(), isStart(c) || (i > start && c >= 0x30 && c <= 0x39) { i += 1 }
        guard i > start, at(">") else { throw error("invalid group name (expected (?<name>...) with an ASCII identifier)", at: start) }
        i += 1
    }

    /// True when a `{` at `i` starts a well-formed `{n}`, `{n,}` or `{n,m}`.
    func quantifierBraceAhead() -> Bool {
        var j = i + 1
        var digits = 0
        while j < scalars.count, scalars[j] >= 0x30, scalars[j] <= 0x39 { j += 1; digits += 1 }
        guard digits > 0, j < scalars.count else { return false }
        if scalars[j] == UInt32(ascii: "}") { return true }
        guard scalars[j] == UInt32(ascii: ",") else { return false }
        j += 1
        while j < scalars.count, scalars[j] >= 0x30, scalars[j] <= 0x39 { j += 1 }
        return j < scalars.count && scalars[j] == UInt32(ascii: "}")
    }

    mutating func quantified(_ atom: _RegexNode, atomStart: Int) throws(_RegexSyntaxError) -> _RegexNode {
        guard let c = peek() else { return atom }
        let quantifierStart = i
        var min: Int
        var max: Int?
        switch c {
        case UInt32(ascii: "*"): min = 0; max = nil; i += 1
        case UInt32(ascii: "+"): min = 1; max = nil; i += 1
        case UInt32(ascii: "?"): min = 0; max = 1; i += 1
        case UInt32(ascii: "{"):
            guard quantifierBraceAhead() else { throw error("lone '{' (write \\{ for a literal brace)") }
            i += 1
            min = try count(quantifierStart)
            if at(",") {
                i += 1
                max = at("}") ? nil : try count(quantifierStart)
            } else {
                max = min
            }
            i += 1  // '}'
            if let max, max < min {
                throw error("quantifier {\(min),\(max)} has its bounds out of order", at: quantifierStart)
            }
        default:
            return atom
        }
        var greedy = true
        if at("?") { greedy = false; i += 1 }
        if let q = peek(), q == UInt32(ascii: "*") || q == UInt32(ascii: "+") || q == UInt32(ascii: "?")
            || (q == UInt32(ascii: "{") && quantifierBraceAhead()) {
            throw error("nothing to repeat: a quantifier cannot follow a quantifier")
        }
        return .repetition(atom, min: min, max: max, greedy: greedy)
    }

    /// A decimal repetition count within `maximumCount`.
    mutating func count(_ quantifierStart: Int) throws(_RegexSyntaxError) -> Int {
        var value = 0
        while let c = peek(), c >= 0x30, c <= 0x39 {
            value = Swift.min(value * 10 + Int(c - 0x30), Self.maximumCount + 1)
            i += 1
        }
        if value > Self.maximumCount {
            throw error("repetition counts above \(Self.maximumCount) are not supported", at: quantifierStart)
        }
        return value
    }
}

extension UInt32 {
    /// The code point of an ASCII character, as `UInt8(ascii:)` gives for bytes.
    @inline(__always) init(ascii scalar: Unicode.Scalar) { self = scalar.value }
}
