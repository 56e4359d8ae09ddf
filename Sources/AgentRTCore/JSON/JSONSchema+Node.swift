// The compiled form of a schema: one node per schema object or boolean in the document,
// with keyword values already checked and converted, and subschemas referenced by index
// into one array (so `$ref` cycles such as `{"$ref": "#"}` need no reference cycles).

/// The JSON types a `type` keyword admits (`integer` is a number with an integral value).
struct _JSONTypeSet: OptionSet, Sendable {
    let rawValue: UInt8
    static let null = _JSONTypeSet(rawValue: 1)
    static let boolean = _JSONTypeSet(rawValue: 2)
    static let integer = _JSONTypeSet(rawValue: 4)
    static let number = _JSONTypeSet(rawValue: 8)
    static let string = _JSONTypeSet(rawValue: 16)
    static let array = _JSONTypeSet(rawValue: 32)
    static let object = _JSONTypeSet(rawValue: 64)

    static let byName: [(String, _JSONTypeSet)] = [
        ("null", .null), ("boolean", .boolean), ("integer", .integer), ("number", .number),
        ("string", .string), ("array", .array), ("object", .object),
    ]

    func admits(_ value: JSONValue) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .number(let n): contains(.number) || (contains(.integer) && n.isIntegral)
        case .string: contains(.string)
        case .array: contains(.array)
        case .object: contains(.object)
        }
    }
}

/// `minimum`, `maximum`, the exclusive bounds and `multipleOf`.
struct _NumberRules: Sendable {
    var minimum: JSONNumber?
    var maximum: JSONNumber?
    var exclusiveMinimum: JSONNumber?
    var exclusiveMaximum: JSONNumber?
    /// The draft-4 boolean forms, which make `minimum`/`maximum` exclusive.
    var minimumIsExclusive = false
    var maximumIsExclusive = false
    var multipleOf: _Divisor?
}

/// `minLength`, `maxLength` (in code points) and `pattern`.
struct _StringRules: Sendable {
    var minLength: Int?
    var maxLength: Int?
    var pattern: _JSONRegex?
}

/// The array keywords; subschemas are node indexes.
struct _ArrayRules: Sendable {
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false
    var prefixItems: [Int] = []
    var items: Int?
    var contains: Int?
    var minContains = 1
    var maxContains: Int?
}

/// The object keywords; subschemas are node indexes.
struct _ObjectRules: Sendable {
    var minProperties: Int?
    var maxProperties: Int?
    var required: [String] = []
    var properties: [(name: String, node: Int)] = []
    /// Name → node for larger `properties`, keyed by exact bytes.
    var propertyIndex: [_ExactString: Int]?
    var patternProperties: [(regex: _JSONRegex, node: Int)] = []
    var additionalProperties: Int?
    var propertyNames: Int?
    var dependentRequired: [(name: String, required: [String])] = []
    var dependentSchemas: [(name: String, node: Int)] = []

    func property(named key: String) -> Int? {
        if let propertyIndex { return propertyIndex[_ExactString(key)] }
        for p in properties where _sameBytes(p.name, key) { return p.node }
        return nil
    }
}

/// One schema: `true`, `false`, or an object of keywords.
final class _SchemaNode: @unchecked Sendable {
    // Mutated only while compiling; immutable (and so safe to share) once `JSONSchema.init` returns.
    enum Verdict { case anything, nothing, keywords }

    /// JSON Pointer of this schema in the document ("" is the root).
    let location: String
    var verdict: Verdict = .keywords
    var types: _JSONTypeSet?
    /// `type` as written, for messages.
    var typeNames: [String] = []
    var enumValues: [JSONValue]?
    var constValue: JSONValue?
    var number: _NumberRules?
    var string: _StringRules?
    var array: _ArrayRules?
    var object: _ObjectRules?
    var ref: Int?
    var allOf: [Int] = []
    var anyOf: [Int] = []
    var oneOf: [Int] = []
    var not: Int?
    var ifSchema: Int?
    var thenSchema: Int?
    var elseSchema: Int?

    init(location: String) { self.location = location }

    /// Subschemas applied to the same value (not to a member or an item): a cycle through
    /// these alone would recurse forever, so the compiler refuses one.
    var inPlaceChildren: [Int] {
        var out = allOf + anyOf + oneOf
        if let ref { out.append(ref) }
        if let not { out.append(not) }
        if let ifSchema { out.append(ifSchema) }
        if let thenSchema { out.append(thenSchema) }
        if let elseSchema { out.append(elseSchema) }
        if let object { out += object.dependentSchemas.map(\.node) }
        return out
    }
}

/// The compiled document: node 0 is the root.
final class _SchemaProgram: Sendable {
    let nodes: [_SchemaNode]
    init(nodes: [_SchemaNode]) { self.nodes = nodes }
}
