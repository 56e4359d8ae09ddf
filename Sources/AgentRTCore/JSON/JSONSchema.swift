// Validator for the JSON Schema subset used by tool input schemas. The schema is
// checked once at init, so validation can trust keyword value types. Keywords
// outside the subset (format, anyOf, $ref, …) are ignored, as JSON Schema does
// for unknown keywords; `description`/`title` are annotations and never checked.

/// A schema document that could not be used (not an object, or a keyword with a wrong-typed value).
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and where, as a JSON-pointer-style location ("#/properties/a").
    public let message: String

    /// Creates an error with `message`.
    public init(message: String) { self.message = message }

    /// "invalid JSON schema: …".
    public var description: String { "invalid JSON schema: \(message)" }
}

/// One way in which a value fails a schema.
public struct JSONSchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// Location of the offending value, e.g. `$.a[2].b` (`$` is the root).
    public let path: String
    /// What is wrong, e.g. `expected integer, got string`.
    public let message: String

    /// Creates a violation.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "path: message".
    public var description: String { "\(path): \(message)" }
}

/// A validated JSON Schema supporting `type`, `properties`, `required`,
/// `additionalProperties`, `items`, `enum`, `const`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `minItems`, `maxItems`.
///
/// Numeric bounds compare exactly (no Double rounding), so limits such as 2^63 behave precisely.
/// Subschemas may also be the booleans `true` (anything) and `false` (nothing).
public struct JSONSchema: Sendable {
    /// The schema document.
    public let root: JSONValue

    /// Checks and wraps `schema`; throws if it is not an object or a supported
    /// keyword has a wrong-typed value (e.g. `"required": 3`).
    public init(_ schema: JSONValue) throws(JSONSchemaError) {
        guard case .object = schema else {
            throw JSONSchemaError(message: "#: a schema must be an object, got \(schema.typeName)")
        }
        try Self.check(schema, at: "#")
        root = schema
        if case .object(let o) = schema, o.count == 1, case .string("object")? = o["type"] {
            acceptsAnyObject = true
        } else {
            acceptsAnyObject = false
        }
    }

    /// `{"type":"object"}`, the default tool schema: any object passes without walking it.
    private let acceptsAnyObject: Bool

    /// Returns every violation of the schema by `value`; empty means valid.
    public func validate(_ value: JSONValue) -> [JSONSchemaViolation] {
        if acceptsAnyObject, case .object = value { return [] }
        var validator = _SchemaValidator()
        validator.validate(value, against: root)
        return validator.violations
    }

    static let typeNames = ["null", "boolean", "number", "integer", "string", "array", "object"]

    /// A non-negative integral number as an Int (huge values clamp to Int.max).
    static func count(_ value: JSONValue) -> Int? {
        guard case .number(let n) = value else { return nil }
        if let i = n.int64 { return i >= 0 ? Int(i) : nil }
        guard n.isIntegral, let d = n.double, d >= 0 else { return nil }
        return d >= 9.2e18 ? Int.max : Int(d)
    }

    /// Recursively checks keyword value types of `schema` located at `loc`.
    private static func check(_ schema: JSONValue, at loc: String) throws(JSONSchemaError) {
        let object: JSONObject
        switch schema {
        case .bool: return
        case .object(let o): object = o
        default: throw JSONSchemaError(message: "\(loc): a schema must be an object or a boolean, got \(schema.typeName)")
        }
        func wrong(_ keyword: String, _ expected: String, _ got: JSONValue) -> JSONSchemaError {
            JSONSchemaError(message: "\(loc): \"\(keyword)\" must be \(expected), got \(got.typeName) \(_short(got))")
        }
        for (keyword, value) in object {
            switch keyword {
            case "type":
                let names: [JSONValue]
                switch value {
                case .string: names = [value]
                case .array(let a) where !a.isEmpty: names = a
                default: throw wrong(keyword, "a type name or a non-empty array of type names", value)
                }
                for name in names {
                    guard let s = name.stringValue, typeNames.contains(s) else {
                        throw JSONSchemaError(message: "\(loc): unknown type \(_short(name)) in \"type\" "
                            + "(expected one of \(typeNames.joined(separator: ", ")))")
                    }
                }
            case "properties":
                guard case .object(let properties) = value else { throw wrong(keyword, "an object of schemas", value) }
                for (name, sub) in properties { try check(sub, at: "\(loc)/properties/\(pointerEscape(name))") }
            case "required":
                guard case .array(let names) = value, names.allSatisfy({ $0.stringValue != nil }) else {
                    throw wrong(keyword, "an array of strings", value)
                }
            case "additionalProperties", "items":
                if keyword == "items", case .array = value {
                    throw JSONSchemaError(message: "\(loc): tuple-form \"items\" (an array) is not supported")
                }
                try check(value, at: "\(loc)/\(keyword)")
            case "enum":
                guard case .array = value else { throw wrong(keyword, "an array", value) }
            case "minimum", "maximum":
                guard case .number = value else { throw wrong(keyword, "a number", value) }
            case "exclusiveMinimum", "exclusiveMaximum":
                // Booleans are the draft-4 form, modifying minimum/maximum.
                switch value {
                case .number, .bool: break
                default: throw wrong(keyword, "a number", value)
                }
            case "minLength", "maxLength", "minItems", "maxItems":
                guard count(value) != nil else { throw wrong(keyword, "a non-negative integer", value) }
            default:
                continue
            }
        }
    }

    /// RFC 6901 escaping for schema locations.
    private static func pointerEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// A value rendered for messages, truncated so huge values do not flood the output.
func _short(_ value: JSONValue) -> String {
    let text = value.serialized()
    return text.count <= 64 ? text : String(text.prefix(61)) + "..."
}

/// Walks a value against an already-checked schema, collecting violations.
/// The path is kept as steps and only rendered when something is reported.
private struct _SchemaValidator {
    enum Step { case key(String), index(Int) }
    var path: [Step] = []
    var violations: [JSONSchemaViolation] = []

    mutating func report(_ message: String) {
        violations.append(JSONSchemaViolation(path: renderPath(), message: message))
    }

    func renderPath() -> String {
        var out = "$"
        for step in path {
            switch step {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if Self.isIdentifier(k) { out += "." + k } else {
                    out += "["
                    JSONValue.appendQuoted(k, to: &out)
                    out += "]"
                }
            }
        }
        return out
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, !_JSONScan.isDigit(first) else { return false }
        return s.utf8.allSatisfy { c in
            let l = c | 0x20
            return (l >= UInt8(ascii: "a") && l <= UInt8(ascii: "z")) || _JSONScan.isDigit(c) || c == UInt8(ascii: "_")
        }
    }

    mutating func validate(_ value: JSONValue, against schema: JSONValue) {
        guard case .object(let s) = schema else {
            if schema == .bool(false) { report("no value is allowed here") }
            return
        }
        if let type = s["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !names.contains(where: { Self.matches(value, type: $0) }) {
                let got = if case .number(let n) = value { "number \(n.text)" } else { value.typeName }
                report("expected \(names.joined(separator: " or ")), got \(got)")
            }
        }
        if let options = s["enum"]?.arrayValue, !options.contains(value) {
            let list = options.map(_short).joined(separator: ", ")
            report("\(_short(value)) is not one of the allowed values: \(list)")
        }
        if let constant = s["const"], constant != value {
            report("expected constant \(_short(constant)), got \(_short(value))")
        }
        switch value {
        case .number(let n): checkBounds(n, s)
        case .string(let str):
            let length = str.unicodeScalars.count
            if let min = s["minLength"].flatMap(JSONSchema.count), length < min {
                report("string is \(length) characters long, shorter than minLength \(min)")
            }
            if let max = s["maxLength"].flatMap(JSONSchema.count), length > max {
                report("string is \(length) characters long, longer than maxLength \(max)")
            }
        case .array(let elements):
            if let min = s["minItems"].flatMap(JSONSchema.count), elements.count < min {
                report("array has \(elements.count) items, fewer than minItems \(min)")
            }
            if let max = s["maxItems"].flatMap(JSONSchema.count), elements.count > max {
                report("array has \(elements.count) items, more than maxItems \(max)")
            }
            if let items = s["items"] {
                for (i, element) in elements.enumerated() {
                    path.append(.index(i))
                    validate(element, against: items)
                    path.removeLast()
                }
            }
        case .object(let object): checkObject(object, s)
        case .null, .bool: break
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string),
             ("array", .array), ("object", .object): true
        case ("integer", .number(let n)): n.isIntegral
        default: false
        }
    }

    mutating func checkBounds(_ n: JSONNumber, _ s: JSONObject) {
        let exclusiveMinFlag = s["exclusiveMinimum"] == .bool(true)
        let exclusiveMaxFlag = s["exclusiveMaximum"] == .bool(true)
        if let m = s["minimum"]?.numberValue {
            let c = n.compare(m)
            if c < 0 || (exclusiveMinFlag && c == 0) {
                report(exclusiveMinFlag ? "\(n) is not greater than exclusive minimum \(m)"
                                        : "\(n) is less than minimum \(m)")
            }
        }
        if let m = s["maximum"]?.numberValue {
            let c = n.compare(m)
            if c > 0 || (exclusiveMaxFlag && c == 0) {
                report(exclusiveMaxFlag ? "\(n) is not less than exclusive maximum \(m)"
                                        : "\(n) is greater than maximum \(m)")
            }
        }
        if let m = s["exclusiveMinimum"]?.numberValue, n.compare(m) <= 0 {
            report("\(n) is not greater than exclusiveMinimum \(m)")
        }
        if let m = s["exclusiveMaximum"]?.numberValue, n.compare(m) >= 0 {
            report("\(n) is not less than exclusiveMaximum \(m)")
        }
    }

    mutating func checkObject(_ object: JSONObject, _ s: JSONObject) {
        let properties = s["properties"]?.objectValue ?? JSONObject()
        for name in s["required"]?.arrayValue ?? [] {
            if let name = name.stringValue, object[name] == nil {
                report("missing required property \(_short(.string(name)))")
            }
        }
        for (key, value) in object {
            if let sub = properties[key] {
                path.append(.key(key))
                validate(value, against: sub)
                path.removeLast()
                continue
            }
            guard let additional = s["additionalProperties"] else { continue }
            if additional == .bool(false) {
                let allowed = properties.keys.map { _short(.string($0)) }.joined(separator: ", ")
                report("unexpected property \(_short(.string(key)))"
                    + (allowed.isEmpty ? " (no properties are allowed)" : " (allowed: \(allowed))"))
            } else {
                path.append(.key(key))
                validate(value, against: additional)
                path.removeLast()
            }
        }
    }
}
