// Sets of Unicode scalars for `.`, `[…]`, `\d \w \s` and `\p{…}`. ECMA-262 defines \d and \w
// as ASCII only and \s as its WhiteSpace plus LineTerminator list, whatever the flag.

/// A set of scalars: sorted disjoint ranges, plus Unicode property tests, possibly negated.
struct _ScalarSet: Sendable {
    /// Sorted, non-overlapping, non-adjacent.
    let ranges: [ClosedRange<UInt32>]
    let properties: [_UnicodeProperty]
    let negated: Bool

    init(ranges: [ClosedRange<UInt32>], properties: [_UnicodeProperty], negated: Bool) {
        self.ranges = Self.normalized(ranges)
        self.properties = properties
        self.negated = negated
    }

    static let maxScalar: UInt32 = 0x10FFFF

    /// `.`: anything but a line terminator (no `s` flag in schemas).
    static let dot = _ScalarSet(ranges: [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029], properties: [], negated: true)
    /// `\d`: ASCII digits only.
    static let digit = _ScalarSet(ranges: [0x30...0x39], properties: [], negated: false)
    /// `\w`: ASCII letters, digits and `_` only.
    static let word = _ScalarSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A], properties: [], negated: false)
    /// `\s`: ECMA-262 WhiteSpace (incl. U+FEFF and category Zs) and LineTerminator.
    static let space = _ScalarSet(ranges: [
        0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029,
        0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
    ], properties: [], negated: false)

    /// True when `c` is in the set.
    @inline(__always)
    func contains(_ c: UInt32) -> Bool {
        var inside = Self.search(ranges, c)
        if !inside, !properties.isEmpty { inside = properties.contains { $0.matches(c) } }
        return inside != negated
    }

    /// The complement, with explicit ranges (so it can be merged into a class such as `[\W_]`).
    var inverted: _ScalarSet {
        precondition(properties.isEmpty, "only range sets are inverted explicitly")
        let base = negated ? ranges : Self.complement(ranges)
        return _ScalarSet(ranges: base, properties: [], negated: false)
    }

    /// `[…]`: the union of single scalars, ranges and nested sets, then the class negation.
    static func union(ranges: [ClosedRange<UInt32>], sets: [_ScalarSet], negated: Bool) -> _ScalarSet {
        var all = ranges
        var properties: [_UnicodeProperty] = []
        for set in sets {
            all += set.negated ? complement(set.ranges) : set.ranges
            properties += set.properties
        }
        return _ScalarSet(ranges: all, properties: properties, negated: negated)
    }

    static func search(_ ranges: [ClosedRange<UInt32>], _ c: UInt32) -> Bool {
        if ranges.count <= 8 {
            for r in ranges {
                if c < r.lowerBound { return false }
                if c <= r.upperBound { return true }
            }
            return false
        }
        var low = 0, high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if c < ranges[mid].lowerBound { high = mid - 1 } else if c > ranges[mid].upperBound { low = mid + 1 } else { return true }
        }
        return false
    }

    static func normalized(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in normalized(ranges) {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound + 1
        }
        if next <= maxScalar { out.append(next...maxScalar) }
        return out
    }
}

/// `\p{…}` / `\P{…}`: a General_Category value or one of a few binary properties, as the
/// Swift standard library's Unicode data reports them.
struct _UnicodeProperty: Sendable {
    enum Test: Sendable {
        /// Bit `index(of: category)` set for each category in the value.
        case categories(UInt32)
        case any, ascii, assigned, alphabetic, uppercase, lowercase, whiteSpace, hexDigit, asciiHexDigit
    }

    let test: Test
    let negated: Bool

    init?(name: String, negated: Bool) {
        self.negated = negated
        var value = name
        if let eq = name.unicodeScalars.firstIndex(of: "=") {
            let key = String(name.unicodeScalars[..<eq])
            guard key == "General_Category" || key == "gc" else { return nil }
            value = String(name.unicodeScalars[name.unicodeScalars.index(after: eq)...])
            guard let mask = Self.categoryMasks[value] else { return nil }
            test = .categories(mask)
            return
        }
        if let mask = Self.categoryMasks[value] {
            test = .categories(mask)
        } else if let binary = Self.binaryProperties[value] {
            test = binary
        } else {
            return nil
        }
    }

    func matches(_ c: UInt32) -> Bool {
        let result: Bool
        if let scalar = Unicode.Scalar(c) {
            let p = scalar.properties
            switch test {
            case .categories(let mask): result = mask & (1 << Self.index(of: p.generalCategory)) != 0
            case .any: result = true
            case .ascii: result = c < 0x80
            case .assigned: result = p.generalCategory != .unassigned
            case .alphabetic: result = p.isAlphabetic
            case .uppercase: result = p.isUppercase
            case .lowercase: result = p.isLowercase
            case .whiteSpace: result = p.isWhitespace
            case .hexDigit: result = p.isHexDigit
            case .asciiHexDigit: result = p.isASCIIHexDigit
            }
        } else {
            // A surrogate code point (from a `\uD800` escape; strings never hold one).
            switch test {
            case .categories(let mask): result = mask & (1 << Self.index(of: .surrogate)) != 0
            case .any, .assigned: result = true
            default: result = false
            }
        }
        return result != negated
    }

    static func index(of category: Unicode.GeneralCategory) -> UInt32 {
        switch category {
        case .uppercaseLetter: 0
        case .lowercaseLetter: 1
        case .titlecaseLetter: 2
        case .modifierLetter: 3
        case .otherLetter: 4
        case .nonspacingMark: 5
        case .spacingMark: 6
        case .enclosingMark: 7
        case .decimalNumber: 8
        case .letterNumber: 9
        case .otherNumber: 10
        case .connectorPunctuation: 11
        case .dashPunctuation: 12
        case .openPunctuation: 13
        case .closePunctuation: 14
        case .initialPunctuation: 15
        case .finalPunctuation: 16
        case .otherPunctuation: 17
        case .mathSymbol: 18
        case .currencySymbol: 19
        case .modifierSymbol: 20
        case .otherSymbol: 21
        case .spaceSeparator: 22
        case .lineSeparator: 23
        case .paragraphSeparator: 24
        case .control: 25
        case .format: 26
        case .surrogate: 27
        case .privateUse: 28
        case .unassigned: 29
        @unknown default: 29
        }
    }

    /// General_Category values by their ECMA-262 (PropertyValueAliases) names.
    static let categoryMasks: [String: UInt32] = {
        func bits(_ from: UInt32, _ to: UInt32) -> UInt32 { (from...to).reduce(0) { $0 | 1 << $1 } }
        let groups: [([String], UInt32)] = [
            (["L", "Letter"], bits(0, 4)), (["LC", "Cased_Letter"], bits(0, 2)),
            (["Lu", "Uppercase_Letter"], bits(0, 0)), (["Ll", "Lowercase_Letter"], bits(1, 1)),
            (["Lt", "Titlecase_Letter"], bits(2, 2)), (["Lm", "Modifier_Letter"], bits(3, 3)),
            (["Lo", "Other_Letter"], bits(4, 4)),
            (["M", "Mark", "Combining_Mark"], bits(5, 7)), (["Mn", "Nonspacing_Mark"], bits(5, 5)),
            (["Mc", "Spacing_Mark"], bits(6, 6)), (["Me", "Enclosing_Mark"], bits(7, 7)),
            (["N", "Number"], bits(8, 10)), (["Nd", "Decimal_Number", "digit"], bits(8, 8)),
            (["Nl", "Letter_Number"], bits(9, 9)), (["No", "Other_Number"], bits(10, 10)),
            (["P", "Punctuation", "punct"], bits(11, 17)), (["Pc", "Connector_Punctuation"], bits(11, 11)),
            (["Pd", "Dash_Punctuation"], bits(12, 12)), (["Ps", "Open_Punctuation"], bits(13, 13)),
            (["Pe", "Close_Punctuation"], bits(14, 14)), (["Pi", "Initial_Punctuation"], bits(15, 15)),
            (["Pf", "Final_Punctuation"], bits(16, 16)), (["Po", "Other_Punctuation"], bits(17, 17)),
            (["S", "Symbol"], bits(18, 21)), (["Sm", "Math_Symbol"], bits(18, 18)),
            (["Sc", "Currency_Symbol"], bits(19, 19)), (["Sk", "Modifier_Symbol"], bits(20, 20)),
            (["So", "Other_Symbol"], bits(21, 21)),
            (["Z", "Separator"], bits(22, 24)), (["Zs", "Space_Separator"], bits(22, 22)),
            (["Zl", "Line_Separator"], bits(23, 23)), (["Zp", "Paragraph_Separator"], bits(24, 24)),
            (["C", "Other"], bits(25, 29)), (["Cc", "Control", "cntrl"], bits(25, 25)),
            (["Cf", "Format"], bits(26, 26)), (["Cs", "Surrogate"], bits(27, 27)),
            (["Co", "Private_Use"], bits(28, 28)), (["Cn", "Unassigned"], bits(29, 29)),
        ]
        var table: [String: UInt32] = [:]
        for (names, mask) in groups { for n in names { table[n] = mask } }
        return table
    }()

    static let binaryProperties: [String: Test] = [
        "Any": .any, "ASCII": .ascii, "Assigned": .assigned, "Alphabetic": .alphabetic, "Alpha": .alphabetic,
        "Uppercase": .uppercase, "Upper": .uppercase, "Lowercase": .lowercase, "Lower": .lowercase,
        "White_Space": .whiteSpace, "space": .whiteSpace, "Hex_Digit": .hexDigit, "Hex": .hexDigit,
        "ASCII_Hex_Digit": .asciiHexDigit, "AHex": .asciiHexDigit,
    ]
}
