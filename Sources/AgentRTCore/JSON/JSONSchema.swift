// JSON Schema (draft 2020-12) validation for tool and agent input schemas. A schema is
// compiled once, when loaded: every keyword is checked, and a keyword outside the supported
// set is refused there, so validation never silently ignores a constraint (fail closed).
//
// Supported: type, enum, const; minimum, maximum, exclusiveMinimum, exclusiveMaximum,
// multipleOf; minLength, maxLength, pattern; prefixItems, items, contains, minContains,
// maxContains, minItems, maxItems, uniqueItems; properties, patternProperties,
// additionalProperties, propertyNames, required, minProperties, maxProperties,
// dependentRequired, dependentSchemas; allOf, anyOf, oneOf, not, if/then/else; $ref
// (`#`, `#/json/pointer`, `#anchor`), $anchor, $defs and the draft-07 name `definitions`;
// boolean schemas. Accepted as annotations: format (not asserted), $schema (root only, a
// published meta-schema from draft-04 to 2020-12, always read with 2020-12 semantics), $id
// (root only; a $ref may name the document by it), $comment, title, description, default,
// examples, deprecated, readOnly, writeOnly, contentMediaType, contentEncoding, contentSchema.
// Strings compare by exact code points. Everything else is refused when the schema loads,
// with the keyword and its JSON Pointer: unevaluated*, $dynamicRef, remote $refs, $id in a
// subschema, draft-07 `dependencies`/`additionalItems`/array `items`, unknown keywords.

/// A schema document that cannot be used: not a schema, a keyword outside the supported set,
/// a keyword value of the wrong type, a pattern outside the supported regex subset, or a
/// `$ref` that does not resolve within the document.
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) into the schema of the offending keyword or schema; "" is the root.
    public let location: String
    /// What is wrong and where, e.g. `unsupported keyword "unevaluatedProperties" at /properties/a`.
    public let message: String

    /// Creates an error with `message` (location unknown).
    public init(message: String) {
        location = ""
        self.message = message
    }

    /// "`problem` at `location`".
    init(_ problem: String, at location: String) {
        self.location = location
        message = "\(problem) at \(_SchemaCompiler.show(location))"
    }

    /// A keyword whose value has the wrong type.
    static func wrongType(_ keyword: String, _ expected: String, _ got: JSONValue, at location: String) -> JSONSchemaError {
        JSONSchemaError("\"\(keyword)\" must be \(expected), got \(got.typeName) \(_short(got))", at: location)
    }

    /// "invalid JSON schema: …".
    public var description: String { "invalid JSON schema: \(message)" }
}

/// One way in which a value fails a schema.
public struct JSONSchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) of the offending value, e.g. `/items/2/name`; "" is the value itself.
    public let path: String
    /// What is wrong, e.g. `expected integer, got string`.
    public let message: String

    /// Creates a violation.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "path: message", with `(root)` for the value itself.
    public var description: String { "\(path.isEmpty ? "(root)" : path): \(message)" }
}

/// A compiled JSON Schema (see the file comment for the keyword set).
///
/// Numbers compare exactly (no Double rounding), `multipleOf` is exact decimal arithmetic,
/// lengths count code points, and strings, enum values and property names compare by exact
/// code points (never canonical equivalence). `pattern` is ECMA-262 searched over code points.
public struct JSONSchema: Sendable {
    /// The schema document.
    public let root: JSONValue
    private let program: _SchemaProgram
    /// `{"type":"object"}`, the default tool schema: any object passes without walking it.
    private let acceptsAnyObject: Bool

    /// Steps (matcher instructions and backtracks) all patterns of one `validate` call may
    /// take; past it the value is refused, so `(a+)+$` cannot stall a call.
    public static let patternStepBudget = 1_000_000

    /// Compiles `schema`; throws if it is not a schema, uses a keyword outside the supported
    /// set or with a wrong-typed value, has an unsupported pattern, or a `$ref` that does not
    /// resolve within it (the message names the keyword and its JSON Pointer).
    public init(_ schema: JSONValue) throws(JSONSchemaError) {
        root = schema
        program = _SchemaProgram(nodes: try _SchemaCompiler.compile(schema))
        if case .object(let o) = schema, o.count == 1, case .string(let t)? = o["type"], _sameBytes(t, "object") {
            acceptsAnyObject = true
        } else {
            acceptsAnyObject = false
        }
    }

    /// Every violation of the schema by `value`; empty means valid.
    public func validate(_ value: JSONValue) -> [JSONSchemaViolation] {
        if acceptsAnyObject, case .object = value { return [] }
        var validator = _SchemaValidator(program.nodes)
        _ = validator.check(value, 0, report: true)
        return validator.result
    }

    /// True when `value` satisfies the schema (stops at the first violation).
    public func isValid(_ value: JSONValue) -> Bool {
        if acceptsAnyObject, case .object = value { return true }
        var validator = _SchemaValidator(program.nodes)
        return validator.check(value, 0, report: false) && validator.fatal.isEmpty
    }
}

/// A value rendered for messages, truncated so huge values do not flood the output.
func _short(_ value: JSONValue) -> String {
    let text = value.serialized()
    return text.unicodeScalars.count <= 64 ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(61))) + "..."
}
