/// A C scalar type a typed native tool may take or return.
public enum CType: String, Sendable, CaseIterable {
    case void, bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64
    /// C `int`.
    case int
    /// C `long`.
    case long
    /// C `size_t`.
    case sizeT
    case float, double
    /// `const char *`: a NUL-terminated UTF-8 string.
    case cString

    /// The type's canonical C spelling, e.g. `int64_t` or `const char *`.
    public var cName: String {
        switch self {
        case .void: "void"
        case .bool: "bool"
        case .int8: "int8_t"
        case .int16: "int16_t"
        case .int32: "int32_t"
        case .int64: "int64_t"
        case .uint8: "uint8_t"
        case .uint16: "uint16_t"
        case .uint32: "uint32_t"
        case .uint64: "uint64_t"
        case .int: "int"
        case .long: "long"
        case .sizeT: "size_t"
        case .float: "float"
        case .double: "double"
        case .cString: "const char *"
        }
    }

    /// Whether the type is an integer type (not `bool`).
    var isInteger: Bool { integerLayout != nil }

    /// Width in bits and signedness of an integer type; nil for every other type.
    var integerLayout: (bits: Int, signed: Bool)? {
        switch self {
        case .int8: (8, true)
        case .int16: (16, true)
        case .int32: (32, true)
        case .int64: (64, true)
        case .uint8: (8, false)
        case .uint16: (16, false)
        case .uint32: (32, false)
        case .uint64: (64, false)
        case .int: (MemoryLayout<CInt>.size * 8, true)
        case .long: (MemoryLayout<CLong>.size * 8, true)
        case .sizeT: (MemoryLayout<Int>.size * 8, false)
        default: nil
        }
    }

    /// The smallest value of an integer type (0 for unsigned types).
    var integerMinimum: Int64 {
        guard let (bits, signed) = integerLayout, signed else { return 0 }
        return bits == 64 ? Int64.min : -(Int64(1) << (bits - 1))
    }

    /// The largest value of an integer type.
    var integerMaximum: UInt64 {
        guard let (bits, signed) = integerLayout else { return 0 }
        let valueBits = signed ? bits - 1 : bits
        return valueBits == 64 ? UInt64.max : (UInt64(1) << valueBits) - 1
    }
}

/// Why a C prototype was refused. `token` is the offending piece of the prototype.
public struct CPrototypeError: Error, Sendable, CustomStringConvertible {
    /// A human-readable explanation naming `token` and the prototype.
    public let message: String
    /// The offending token, e.g. `struct foo`, `...` or `char *`.
    public let token: String

    /// Creates an error.
    public init(message: String, token: String) {
        self.message = message
        self.token = token
    }

    /// The message.
    public var description: String { message }
}

/// A parsed C function prototype such as `int64_t add(int64_t a, int64_t b)`.
public struct CPrototype: Sendable, Equatable, CustomStringConvertible {
    /// One named parameter.
    public struct Parameter: Sendable, Equatable {
        /// The parameter's name, a C identifier unique within the prototype.
        public let name: String
        /// The parameter's type (never `.void`).
        public let type: CType

        /// Creates a parameter.
        public init(name: String, type: CType) {
            self.name = name
            self.type = type
        }
    }

    /// The most parameters a prototype may declare.
    public static let maximumParameterCount = 16

    /// The function's name, a C identifier.
    public let name: String
    /// The return type; `.void` when the function returns nothing.
    public let returnType: CType
    /// The parameters in declaration order.
    public let parameters: [Parameter]

    /// The prototype in canonical spelling, e.g. `int64_t add(int64_t a, int64_t b)`.
    public var description: String {
        let params = parameters.isEmpty
            ? "void" : parameters.map { Self.declare($0.type, $0.name) }.joined(separator: ", ")
        return "\(Self.declare(returnType, name))(\(params))"
    }

    private static func declare(_ type: CType, _ name: String) -> String {
        type == .cString ? "const char *\(name)" : "\(type.cName) \(name)"
    }

    /// Parses a prototype. Accepts `void`, `bool`/`_Bool`, `int8_t`…`uint64_t`, `int`,
    /// `signed int`, `long`, `long int`, `size_t`, `float`, `double` and `const char *`
    /// (or `char const *`), with any whitespace, `(void)` or `()` for no parameters and an
    /// optional trailing `;`. Every parameter needs a unique name.
    public static func parse(_ text: String) throws(CPrototypeError) -> CPrototype {
        try Parser(text: text).parse()
    }
}

/// Parses by splitting tokens: a supported prototype is flat, so no grammar is needed.
private struct Parser {
    let text: String
    let tokens: [String]

    init(text: String) {
        self.text = text.trimmingWhitespace()
        self.tokens = Self.tokenize(self.text)
    }

    private static let keywords: Set<String> = [
        "void", "bool", "_Bool", "char", "short", "int", "long", "signed", "unsigned", "float",
        "double", "const", "volatile", "restrict", "struct", "union", "enum", "static", "extern",
        "inline", "register", "auto", "typedef", "int8_t", "int16_t", "int32_t", "int64_t",
        "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t",
    ]

    private static let scalarTypes: [String: CType] = [
        "void": .void, "bool": .bool, "_Bool": .bool,
        "int8_t": .int8, "int16_t": .int16, "int32_t": .int32, "int64_t": .int64,
        "uint8_t": .uint8, "uint16_t": .uint16, "uint32_t": .uint32, "uint64_t": .uint64,
        "int": .int, "signed int": .int, "signed": .int, "long": .long, "long int": .long,
        "signed long": .long, "signed long int": .long, "size_t": .sizeT,
        "float": .float, "double": .double,
        "const char *": .cString, "char const *": .cString,
    ]

    func parse() throws(CPrototypeError) -> CPrototype {
        guard !tokens.isEmpty else { throw fail("empty prototype", token: "") }
        guard let open = tokens.firstIndex(of: "(") else {
            throw fail("missing parameter list after \(quoted(tokens[tokens.count - 1])) in \(quoted(text))",
                       token: tokens[tokens.count - 1])
        }
        if open + 1 < tokens.count, tokens[open + 1] == "*" {
            throw fail("function pointers are not supported: \(quoted("(*")) in \(quoted(text))", token: "(*")
        }
        let (returnType, name) = try declaration(Array(tokens[..<open]), context: nil)
        guard let (params, close) = splitParameters(after: open) else {
            throw fail("unclosed \(quoted("(")) in \(quoted(text))", token: "(")
        }
        var rest = tokens[(close + 1)...]
        if rest.last == ";" { rest = rest.dropLast() }
        if let garbage = rest.first {
            throw fail("unexpected \(quoted(garbage)) after the parameter list of \(quoted(text))", token: garbage)
        }
        if params.count > CPrototype.maximumParameterCount {
            let extra = params[CPrototype.maximumParameterCount].joinedTokens()
            throw fail("too many parameters (\(params.count), at most \(CPrototype.maximumParameterCount)): "
                + "\(quoted(extra)) in \(quoted(text))", token: extra)
        }
        var parameters: [CPrototype.Parameter] = []
        if !(params.count == 1 && (params[0].isEmpty || params[0] == ["void"])) {
            for (index, tokens) in params.enumerated() {
                let (type, name) = try declaration(tokens, context: index + 1)
                if parameters.contains(where: { $0.name == name }) {
                    throw fail("duplicate parameter name \(quoted(name)) in \(quoted(text))", token: name)
                }
                parameters.append(CPrototype.Parameter(name: name, type: type))
            }
        }
        return CPrototype(name: name, returnType: returnType, parameters: parameters)
    }

    /// Splits the tokens between the parenthesis at `open` and its match on top-level commas.
    private func splitParameters(after open: Int) -> ([[String]], Int)? {
        var params: [[String]] = [[]]
        var depth = 0
        for index in (open + 1)..<tokens.count {
            let token = tokens[index]
            if token == ")" && depth == 0 { return (params, index) }
            if token == "," && depth == 0 {
                params.append([])
                continue
            }
            if token == "(" { depth += 1 }
            if token == ")" { depth -= 1 }
            params[params.count - 1].append(token)
        }
        return nil
    }

    /// Resolves `type name` tokens; `context` is the 1-based parameter number, nil for the return.
    private func declaration(_ tokens: [String], context: Int?) throws(CPrototypeError) -> (CType, String) {
        let place = context.map { "parameter \($0) of \(quoted(text))" } ?? quoted(text)
        let whole = tokens.joinedTokens()
        if tokens.isEmpty {
            throw fail("empty parameter \(context ?? 0) (stray \(quoted(","))) in \(quoted(text))", token: ",")
        }
        if tokens.contains("...") {
            throw fail("variadic \(quoted("...")) is not supported in \(quoted(text))", token: "...")
        }
        if tokens.contains("(") {
            throw fail("function pointer \(quoted(whole)) (\(place)) is not supported", token: whole)
        }
        if let bracket = tokens.first(where: { $0 == "[" || $0 == "]" }) {
            throw fail("arrays are not supported: \(quoted(bracket)) in \(place)", token: bracket)
        }
        if context != nil && tokens == ["void"] {
            throw fail("\(quoted("void")) is not allowed as a parameter type (\(place))", token: "void")
        }
        let what = context == nil ? "function name" : "parameter name"
        let last = tokens[tokens.count - 1]
        if last.unicodeScalars.allSatisfy(\.isIdentifierCharacter) && !last.isCIdentifier {
            throw fail("\(quoted(last)) is not a valid \(what) (\(place))", token: last)
        }
        guard last.isCIdentifier, !Self.keywords.contains(last), tokens.count > 1 else {
            if context == nil && tokens.count == 1 && last.isCIdentifier && !Self.keywords.contains(last) {
                throw fail("missing return type before \(quoted(last)) in \(quoted(text))", token: last)
            }
            throw fail("missing \(what) after \(quoted(whole)) in \(place)", token: whole)
        }
        let typeText = tokens.dropLast().joinedTokens()
        guard let type = Self.scalarTypes[typeText] else {
            if typeText == "char *" || typeText == "unsigned char *" || typeText == "signed char *" {
                throw fail("mutable buffer type \(quoted(typeText)) in \(place) is not supported; "
                    + "use \(quoted("const char *"))", token: typeText)
            }
            let kind = context == nil ? "return type" : "type"
            throw fail("unsupported \(kind) \(quoted(typeText)) in \(place)", token: typeText)
        }
        if type == .void && context != nil {
            throw fail("\(quoted("void")) is not allowed as a parameter type (\(place))", token: "void")
        }
        return (type, last)
    }

    private func fail(_ message: String, token: String) -> CPrototypeError {
        CPrototypeError(message: message, token: token)
    }

    private static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var word = ""
        var scalars = text.unicodeScalars[...]
        func flush() {
            if !word.isEmpty { tokens.append(word); word = "" }
        }
        while let scalar = scalars.popFirst() {
            if scalar.isIdentifierCharacter {
                word.unicodeScalars.append(scalar)
                continue
            }
            flush()
            if scalar.isWhitespace { continue }
            if scalar == ".", scalars.starts(with: "..".unicodeScalars) {
                scalars = scalars.dropFirst(2)
                tokens.append("...")
            } else {
                tokens.append(String(scalar))
            }
        }
        flush()
        return tokens
    }
}

private func quoted(_ s: String) -> String { "\"\(s)\"" }

extension Unicode.Scalar {
    fileprivate var isIdentifierCharacter: Bool {
        switch value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F: true
        default: false
        }
    }

    fileprivate var isWhitespace: Bool { properties.isWhitespace }
}

extension String {
    fileprivate var isCIdentifier: Bool {
        guard let first = unicodeScalars.first, !(0x30...0x39).contains(first.value) else { return false }
        return unicodeScalars.allSatisfy(\.isIdentifierCharacter)
    }

    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}

extension Sequence<String> {
    /// Joins tokens the way C is usually written: `const char *`, `struct foo`, `int (*cb)(int)`.
    fileprivate func joinedTokens() -> String {
        var out = ""
        var previous: String?
        for token in self {
            if let previous {
                let tight = previous == "(" || token == ")" || token == "," || token == "["
                    || token == "]" || previous == "[" || (token == "(" && previous == ")")
                    || (previous == "*" && token != "*" && out.hasSuffix("(*"))
                if !tight { out += " " }
            }
            out += token
            previous = token
        }
        return out
    }
}
