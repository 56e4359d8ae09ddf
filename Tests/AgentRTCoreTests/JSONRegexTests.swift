import Testing
@testable import AgentRTCore

// The pattern engine: ECMA-262 (`u` mode) syntax searched over code points, the refusal of
// constructs it does not implement, and the step budget that fails closed.

private struct RegexCase: Sendable, CustomTestStringConvertible {
    let pattern: String
    let input: String
    let matches: Bool
    var testDescription: String { "/\(pattern)/ \(matches ? "finds" : "does not find") \(input.debugDescription)" }
}

private func r(_ pattern: String, _ input: String, _ matches: Bool) -> RegexCase {
    RegexCase(pattern: pattern, input: input, matches: matches)
}

private let literalsAndAnchors: [RegexCase] = [
    r("abc", "xabcx", true), r("abc", "ab", false), r("", "", true), r("", "x", true), r("abc", "ABC", false),
    r("^abc$", "abc", true), r("^abc$", "abc\n", false), r("^abc", "xabc", false), r("abc$", "abcx", false),
    r("a^b", "a^b", false), r("^$", "", true), r("^$", "a", false), r("a$|^b", "ba", true),
    r("^🐲*$", "🐲🐲", true), r("^🐲*$", "🐉", false), r("^🐲*$", "", true),
    r("\\bcat\\b", "a cat!", true), r("\\bcat\\b", "concat", false), r("\\Bcat", "concat", true), r("\\b", "", false),
]

private let dotsAndClasses: [RegexCase] = [
    r("^.$", "a", true), r("^.$", "\n", false), r("^.$", "\r", false), r("^.$", "\u{2028}", false),
    r("^.$", "😀", true), r("^..$", "😀", false), r("^.$", "e\u{301}", false), r("^..$", "e\u{301}", true),
    r("^[abc]+$", "abcba", true), r("^[a-z]+$", "hello", true), r("^[a-z]+$", "Hello", false),
    r("^[^a-z]+$", "ABC1", true), r("^[^a-z]$", "a", false), r("^[-a]$", "-", true), r("^[a-]$", "-", true),
    r("^[a\\-z]$", "-", true), r("^[a\\-z]$", "b", false), r("^[\\d_]+$", "1_2", true), r("^[\\w.-]+$", "a.b-c_9", true),
    r("^[\\W]$", "é", true), r("^[^\\d]$", "5", false), r("^[.]$", "x", false), r("^[.]$", ".", true),
    r("^[\\]]$", "]", true), r("^[\\^]$", "^", true), r("[]", "a", false), r("^[^]$", "\n", true),
    r("^[😀-😂]$", "😁", true), r("^[\\u{1F600}-\\u{1F602}]$", "😃", false), r("^[\\b]$", "\u{8}", true),
    r("^[(){}*+?|$]+$", "(){}*+?|$", true), r("^[\\s\\S]$", "\n", true), r("^[^\\s\\S]$", "a", false),
    r("^[A-Za-z0-9+/]+={0,2}$", "aGVsbG8=", true), r("^[A-Za-z0-9+/]+={0,2}$", "aGVs bG8=", false),
]

private let escapes: [RegexCase] = [
    r("^\\d+$", "0123", true), r("^\\d$", "٣", false), r("^\\D$", "٣", true), r("^\\w+$", "abc_1", true),
    r("^\\w$", "é", false), r("^\\W$", "é", true), r("^\\s$", "\u{a0}", true), r("^\\s$", "\u{feff}", true),
    r("^\\s$", "\u{2003}", true), r("^\\s$", "\u{2029}", true), r("^\\s$", "\u{1}", false), r("^\\s$", "–", false),
    r("^\\S$", "\u{1}", true), r("^\\S$", " ", false), r("^\\t$", "\t", true), r("^\\t$", "\\t", false),
    r("^\\n\\r\\v\\f$", "\n\r\u{b}\u{c}", true), r("^\\cC$", "\u{3}", true), r("^\\cc$", "\u{3}", true),
    r("^\\cC$", "\\cC", false), r("^\\x41$", "A", true), r("^\\u0041$", "A", true), r("^\\u{1F600}$", "😀", true),
    r("^\\uD83D\\uDE00$", "😀", true), r("^\\0$", "\u{0}", true), r("^\\.$", ".", true), r("^\\.$", "x", false),
    r("^\\/$", "/", true), r("^\\\\$", "\\", true), r("^\\$$", "$", true), r("^\\{\\}$", "{}", true),
    r("^\\uD800$", "x", false),
]

private let groupsAndQuantifiers: [RegexCase] = [
    r("^(ab)+$", "abab", true), r("^(ab)+$", "aba", false), r("^(?:a|bc)+$", "abca", true),
    r("^(?<word>[a-z]+)-\\d$", "ab-1", true), r("^a|b$", "ax", true), r("^a|b$", "xb", true), r("^a|b$", "xa", false),
    r("^(a|b)$", "b", true), r("^(|a)$", "", true), r("^(a|)+$", "aa", true), r("cat|dog", "hotdog", true),
    r("^a*$", "", true), r("^a+$", "", false), r("^a?b$", "b", true), r("^a{3}$", "aaa", true), r("^a{3}$", "aaaa", false),
    r("^a{2,}$", "aaaaa", true), r("^a{2,}$", "a", false), r("^a{2,3}$", "aaa", true), r("^a{2,3}$", "aaaa", false),
    r("^a{0}$", "", true), r("^a{0,1}b$", "ab", true), r("^(ab){2}$", "abab", true), r("^a*?b$", "aaab", true),
    r("^a+?$", "aaa", true), r("^a??b$", "ab", true), r("^a{2,3}?$", "aaa", true), r("^(a*)*$", "aaa", true),
    r("^(a*)*b$", "aaac", false), r("^(a?)+$", "", true), r("^(a|b?)*c$", "ababbc", true), r("^(a*)+?b", "aab", true),
    r("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "2024-02-29", true), r("^[0-9]{4}-[0-9]{2}$", "2024-2", false),
    r("^(?:(?:a{2}){2}){2}$", "aaaaaaaa", true), r("^(?:(?:a{2}){2}){2}$", "aaaaaaa", false),
    // Patterns of the kind tool schemas carry.
    r("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "a.b@example.com", true), r("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "a@b", false),
    r("^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$", "1.20.3", true),
    r("^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$", "01.2.3", false),
    r("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", "123e4567-e89b-12d3-a456-426614174000", true),
    r("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", "123e4567-e89b-12d3-a456-42661417400", false),
    r("^https?://[^/\\s]+(/\\S*)?$", "https://example.com/a?b=c", true), r("^https?://[^/\\s]+(/\\S*)?$", "ftp://x", false),
]

private let unicodeProperties: [RegexCase] = [
    r("^\\p{L}+$", "héllo", true), r("^\\p{L}+$", "h3llo", false), r("^\\p{Letter}+$", "π", true),
    r("^\\p{Lu}$", "É", true), r("^\\p{Lu}$", "é", false), r("^\\P{L}+$", "123", true), r("^\\p{Nd}+$", "৪২", true),
    r("^\\p{digit}+$", "42", true), r("^\\p{General_Category=Letter}$", "a", true), r("^\\p{gc=Zs}$", "\u{3000}", true),
    r("^[\\p{L}\\d]+$", "é1", true), r("^[^\\p{L}]$", "é", false), r("^\\p{ASCII}+$", "abc", true),
    r("^\\p{ASCII}$", "é", false), r("^\\p{Any}$", "😀", true), r("\\p{Letter}cole", "l'école", true),
    r("\\wcole", "l'école", false), r("^\\p{Sc}$", "€", true), r("^\\p{P}+$", "!?.", true),
    r("^\\p{White_Space}$", "\u{85}", true), r("^\\p{Alphabetic}$", "中", true), r("^\\P{Ll}$", "A", true),
]

/// Patterns refused at load, with a fragment of the reason.
private let refusals: [(String, String)] = [
    ("(?=a)", "lookahead"), ("(?!a)", "lookahead"), ("(?<=a)", "lookbehind"), ("(?<!a)", "lookbehind"),
    ("(a)\\1", "backreferences"), ("(?<n>a)\\k<n>", "named backreferences"), ("(?i)a", "unsupported group syntax"),
    ("(?i:a)", "unsupported group syntax"), ("\\p{Script=Greek}", "unsupported Unicode property"),
    ("\\p{Foo}", "unsupported Unicode property"), ("\\pL", "must be followed by {"), ("\\e", "invalid escape '\\e'"),
    ("\\a", "invalid escape"), ("\\z", "invalid escape"), ("[\\q]", "invalid escape"), ("[z-a]", "out of order"),
    ("[\\d-z]", "cannot be a range endpoint"), ("a**", "cannot follow a quantifier"), ("*a", "nothing to repeat"),
    ("^*", "assertion"), ("\\b+", "assertion"), ("a{2,1}", "bounds out of order"), ("a{1001}", "above 1000"),
    ("(a", "unterminated group"), ("a)", "unmatched ')'"), ("[a", "unterminated character class"),
    ("{", "lone '{'"), ("a{", "lone '{'"), ("a{1", "lone '{'"), ("}", "lone '}'"), ("]", "lone ']'"),
    ("\\", "lone '\\'"), ("\\x4", "\\x must be followed by 2 hex digits"), ("\\u12", "\\u must be followed by 4"),
    ("\\u{110000}", "code point up to 10FFFF"), ("\\c1", "\\c must be followed by an ASCII letter"),
    ("\\01", "octal"), ("(?<1a>x)", "invalid group name"), (String(repeating: "(", count: 101) + "a" + String(repeating: ")", count: 101),
    "nest deeper"), ("(a{1000}){1000}", "too large"), ("a{3}{2}", "cannot follow a quantifier"),
]

@Suite struct JSONRegexTests {
    private func search(_ c: RegexCase) throws -> Bool? {
        var budget = JSONSchema.patternStepBudget
        return try _JSONRegex(c.pattern).search(c.input, budget: &budget)
    }

    @Test(arguments: literalsAndAnchors) fileprivate func anchors(_ c: RegexCase) throws { #expect(try search(c) == c.matches) }
    @Test(arguments: dotsAndClasses) fileprivate func classes(_ c: RegexCase) throws { #expect(try search(c) == c.matches) }
    @Test(arguments: escapes) fileprivate func escapeSequences(_ c: RegexCase) throws { #expect(try search(c) == c.matches) }
    @Test(arguments: groupsAndQuantifiers) fileprivate func groups(_ c: RegexCase) throws { #expect(try search(c) == c.matches) }
    @Test(arguments: unicodeProperties) fileprivate func properties(_ c: RegexCase) throws { #expect(try search(c) == c.matches) }

    @Test(arguments: refusals)
    func unsupportedConstructsAreRefused(pattern: String, fragment: String) throws {
        let error = try #require(throws: _RegexSyntaxError.self) { try _JSONRegex(pattern) }
        #expect(error.message.contains(fragment), "\(pattern): \(error.message)")
        // Through a schema the refusal names the pattern and its location.
        let schema: JSONValue = ["properties": ["code": ["pattern": .string(pattern)]]]
        let schemaError = try #require(throws: JSONSchemaError.self) { try JSONSchema(schema) }
        #expect(schemaError.location == "/properties/code/pattern")
        #expect(schemaError.message.contains("is not a supported regular expression"), "\(schemaError.message)")
    }

    @Test func catastrophicBacktrackingRunsOutOfBudget() throws {
        let regex = try _JSONRegex("^(a+)+$")
        var budget = 100_000
        #expect(regex.search(String(repeating: "a", count: 40) + "!", budget: &budget) == nil)
        #expect(budget < 0)
        var enough = 100_000
        #expect(regex.search(String(repeating: "a", count: 40), budget: &enough) == true)   // greedy finds it at once
    }

    @Test func catastrophicPatternsFailClosedInASchema() throws {
        let evil = JSONValue.string(String(repeating: "a", count: 40) + "!")
        for schema in [#"{"pattern": "^(a+)+$"}"#, #"{"not": {"pattern": "^(a+)+$"}}"#,
                       #"{"anyOf": [{"pattern": "^(a|aa)+$"}, {"type": "string"}]}"#,
                       #"{"propertyNames": {"not": {"pattern": "^(a*)*b$"}}}"#, #"{"items": {"pattern": "(x+x+)+y"}}"#] {
            let s = try compileSchema(schema)
            let value: JSONValue = schema.contains("propertyNames") ? .object(JSONObject([(evil.stringValue!, 1)]))
                : schema.contains("items") ? [.string(String(repeating: "x", count: 40))] : evil
            let found = s.validate(value)
            #expect(found.contains { $0.message.contains("catastrophic backtracking") }, "\(schema): \(found)")
            #expect(!s.isValid(value), "\(schema)")
        }
    }

    @Test func ordinaryPatternsStayWithinBudgetOnLongStrings() throws {
        let s = try compileSchema(#"{"items": {"pattern": "^[a-z]+\\d*$"}, "patternProperties": {"z$": {}}}"#)
        let long = String(repeating: "abcdefghij", count: 2_000) + "42"
        #expect(s.validate([.string(long), .string(long)]).isEmpty)
        #expect(try compileSchema(#"{"pattern": "needle"}"#).validate(.string(String(repeating: "hay ", count: 10_000) + "needle")).isEmpty)
    }

    @Test func refusalOffsetsCountCodePoints() throws {
        let error = try #require(throws: _RegexSyntaxError.self) { try _JSONRegex("😀é(?=x)") }
        #expect(error.offset == 2)
    }
}
