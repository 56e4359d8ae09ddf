// Escapes and character classes of the pattern syntax (ECMA-262 `u` mode): `\d \w \s`,
// `\p{…}`, control and hex escapes, `[…]` with ranges and negation.

extension _RegexParser {
    /// One item of a character class: a single scalar (may start a range) or a whole set.
    enum ClassAtom {
        case scalar(UInt32)
        case set(_ScalarSet)
    }

    /// `\…` outside a class.
    mutating func atomEscape() throws(_RegexSyntaxError) -> _RegexNode {
        let start = i
        i += 1
        guard let c = peek() else { throw error("pattern ends with a lone '\\'", at: start) }
        if c >= UInt32(ascii: "1") && c <= UInt32(ascii: "9") {
            throw error("backreferences (\\1 …) are not supported", at: start)
        }
        if c == UInt32(ascii: "k") {
            throw error("named backreferences (\\k<name>) are not supported", at: start)
        }
        if let set = try classEscape(start) { return .set(set) }
        return .scalar(try characterEscape(start, inClass: false))
    }

    /// `\d \D \s \S \w \W \p{…} \P{…}` at `i` (just after the backslash at `start`), or nil.
    mutating func classEscape(_ start: Int) throws(_RegexSyntaxError) -> _ScalarSet? {
        guard let c = peek() else { return nil }
        switch c {
        case UInt32(ascii: "d"): i += 1; return .digit
        case UInt32(ascii: "D"): i += 1; return _ScalarSet.digit.inverted
        case UInt32(ascii: "s"): i += 1; return .space
        case UInt32(ascii: "S"): i += 1; return _ScalarSet.space.inverted
        case UInt32(ascii: "w"): i += 1; return .word
        case UInt32(ascii: "W"): i += 1; return _ScalarSet.word.inverted
        case UInt32(ascii: "p"), UInt32(ascii: "P"):
            i += 1
            let property = try unicodeProperty(start, negated: c == UInt32(ascii: "P"))
            return _ScalarSet(ranges: [], properties: [property], negated: false)
        default:
            return nil
        }
    }

    /// `{Name}` or `{Name=Value}` after `\p`.
    mutating func unicodeProperty(_ start: Int, negated: Bool) throws(_RegexSyntaxError) -> _UnicodeProperty {
        guard at("{") else { throw error("\\p and \\P must be followed by {property}", at: start) }
        i += 1
        var text = ""
        while let c = peek(), c != UInt32(ascii: "}") {
            guard let scalar = Unicode.Scalar(c) else { break }
            text.unicodeScalars.append(scalar)
            i += 1
        }
        guard at("}") else { throw error("unterminated \\p{…}", at: start) }
        i += 1
        guard let property = _UnicodeProperty(name: text, negated: negated) else {
            throw error("unsupported Unicode property \\p{\(text)} (supported: General_Category values such as L, "
                + "Letter, Lu, Nd, P, Zs and the properties Any, ASCII, Assigned, Alphabetic, Uppercase, Lowercase, "
                + "White_Space, Hex_Digit, ASCII_Hex_Digit)", at: start)
        }
        return property
    }

    /// A single-scalar escape; `i` is just after the backslash at `start`.
    mutating func characterEscape(_ start: Int, inClass: Bool) throws(_RegexSyntaxError) -> UInt32 {
        let c = scalars[i]
        i += 1
        switch c {
        case UInt32(ascii: "f"): return 0x0C
        case UInt32(ascii: "n"): return 0x0A
        case UInt32(ascii: "r"): return 0x0D
        case UInt32(ascii: "t"): return 0x09
        case UInt32(ascii: "v"): return 0x0B
        case UInt32(ascii: "c"):
            guard let letter = peek(), (letter | 0x20) >= UInt32(ascii: "a"), (letter | 0x20) <= UInt32(ascii: "z") else {
                throw error("\\c must be followed by an ASCII letter", at: start)
            }
            i += 1
            return letter % 32
        case UInt32(ascii: "0"):
            if let d = peek(), d >= UInt32(ascii: "0"), d <= UInt32(ascii: "9") {
                throw error("octal escapes are not allowed (\\0 may not be followed by a digit)", at: start)
            }
            return 0
        case UInt32(ascii: "x"):
            guard let value = hexDigits(exactly: 2) else { throw error("\\x must be followed by 2 hex digits", at: start) }
            return value
        case UInt32(ascii: "u"):
            return try unicodeEscape(start)
        case UInt32(ascii: "-") where inClass:
            return c
        case UInt32(ascii: "b") where inClass:
            return 0x08
        default:
            if Self.isSyntaxCharacter(c) || c == UInt32(ascii: "/") { return c }
            let shown = Unicode.Scalar(c).map { String(Character($0)) } ?? "?"
            throw error("invalid escape '\\\(shown)' (only syntax characters ^$\\.*+?()[]{}|/ may be escaped; "
                + "use \\d \\w \\s \\p{…} \\t \\n \\xHH \\uHHHH or \\u{H…} for the rest)", at: start)
        }
    }

    /// `\uHHHH` (a surrogate pair of two such escapes makes one scalar) or `\u{H…}`.
    mutating func unicodeEscape(_ start: Int) throws(_RegexSyntaxError) -> UInt32 {
        if at("{") {
            i += 1
            var value: UInt32 = 0
            var digits = 0
            while let c = peek(), let d = Self.hexValue(c) {
                value = value > 0x10FFFF ? value : value * 16 + d
                digits += 1
                i += 1
            }
            guard digits > 0, at("}"), value <= 0x10FFFF else {
                throw error("\\u{…} must hold 1 or more hex digits of a code point up to 10FFFF", at: start)
            }
            i += 1
            return value
        }
        guard let unit = hexDigits(exactly: 4) else {
            throw error("\\u must be followed by 4 hex digits or {code point}", at: start)
        }
        if (0xD800...0xDBFF).contains(unit), at("\\"), at("u", 1) {
            let save = i
            i += 2
            if let low = hexDigits(exactly: 4), (0xDC00...0xDFFF).contains(low) {
                return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            i = save
        }
        // A lone surrogate is accepted as written; no string scalar can equal it.
        return unit
    }

    mutating func hexDigits(exactly count: Int) -> UInt32? {
        var value: UInt32 = 0
        for k in 0..<count {
            guard let c = peek(k), let d = Self.hexValue(c) else { return nil }
            value = value * 16 + d
        }
        i += count
        return value
    }

    static func hexValue(_ c: UInt32) -> UInt32? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    /// `^ $ \ . * + ? ( ) [ ] { } |`.
    static func isSyntaxCharacter(_ c: UInt32) -> Bool {
        switch c {
        case 0x5E, 0x24, 0x5C, 0x2E, 0x2A, 0x2B, 0x3F, 0x28, 0x29, 0x5B, 0x5D, 0x7B, 0x7D, 0x7C: true
        default: false
        }
    }

    /// `[…]` or `[^…]`.
    mutating func characterClass() throws(_RegexSyntaxError) -> _ScalarSet {
        let open = i
        i += 1
        var negated = false
        if at("^") { negated = true; i += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        var sets: [_ScalarSet] = []
        while true {
            guard let c = peek() else { throw error("unterminated character class (missing ']')", at: open) }
            if c == UInt32(ascii: "]") { i += 1; break }
            let itemStart = i
            let first = try classAtom()
            if at("-"), let next = peek(1), next != UInt32(ascii: "]") {
                i += 1
                let second = try classAtom()
                guard case .scalar(let low) = first, case .scalar(let high) = second else {
                    throw error("a class escape such as \\d cannot be a range endpoint", at: itemStart)
                }
                guard low <= high else { throw error("character class range out of order", at: itemStart) }
                ranges.append(low...high)
            } else {
                switch first {
                case .scalar(let s): ranges.append(s...s)
                case .set(let set): sets.append(set)
                }
            }
        }
        return _ScalarSet.union(ranges: ranges, sets: sets, negated: negated)
    }

    mutating func classAtom() throws(_RegexSyntaxError) -> ClassAtom {
        let c = scalars[i]
        guard c == UInt32(ascii: "\\") else { i += 1; return .scalar(c) }
        let start = i
        i += 1
        guard peek() != nil else { throw error("pattern ends with a lone '\\'", at: start) }
        if let set = try classEscape(start) { return .set(set) }
        return .scalar(try characterEscape(start, inClass: true))
    }
}
