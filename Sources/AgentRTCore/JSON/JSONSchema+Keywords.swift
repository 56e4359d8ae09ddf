// The keyword set, checked when a schema is loaded. A keyword outside the set is refused
// rather than ignored: a validator that skips `pattern` or `anyOf` lets arguments the
// schema forbids reach native code (fail closed).

extension _SchemaCompiler {
    /// Keywords that are known but not implemented, with what to write instead.
    static let refusedKeywords: [String: String] = [
        "unevaluatedProperties": "it needs annotation results, which this validator does not collect",
        "unevaluatedItems": "it needs annotation results, which this validator does not collect",
        "$dynamicRef": "dynamic references are not supported",
        "$dynamicAnchor": "dynamic references are not supported",
        "$recursiveRef": "draft 2019-09 recursive references are not supported",
        "$recursiveAnchor": "draft 2019-09 recursive references are not supported",
        "$vocabulary": "custom vocabularies are not supported",
        "dependencies": "draft-07 form; write dependentRequired or dependentSchemas",
        "additionalItems": "draft-07 form; write prefixItems and items",
        "id": "draft-04 form; write $id",
        "nullable": "OpenAPI form; add \"null\" to \"type\"",
    ]

    // The schema keywords switch is long by nature: one case per keyword of the set.
    // swiftlint:disable:next cyclomatic_complexity function_body_length
    mutating func compileKeywords(_ keywords: JSONObject, into node: _SchemaNode, id: Int, at location: String,
                                  isRoot: Bool) throws(JSONSchemaError) {
        var number = _NumberRules(), string = _StringRules(), array = _ArrayRules(), object = _ObjectRules()
        var hasNumber = false, hasString = false, hasArray = false, hasObject = false
        for (keyword, value) in keywords {
            let here = location + "/" + Self.escape(keyword)
            func wrong(_ expected: String) -> JSONSchemaError { .wrongType(keyword, expected, value, at: here) }
            func count() throws(JSONSchemaError) -> Int {
                guard let n = Self.count(value) else { throw wrong("a non-negative integer") }
                return n
            }
            func numberValue() throws(JSONSchemaError) -> JSONNumber {
                guard case .number(let n) = value else { throw wrong("a number") }
                return n
            }
            func text() throws(JSONSchemaError) -> String {
                guard case .string(let s) = value else { throw wrong("a string") }
                return s
            }
            // Keywords are ASCII; checking that first keeps String's canonical-equivalence `==`
            // in the switch below from matching a look-alike spelling.
            guard keyword.utf8.allSatisfy({ $0 < 0x80 }) else { throw Self.unsupported(keyword, at: location) }
            switch keyword {
            // Any instance type.
            case "type":
                (node.types, node.typeNames) = try Self.typeSet(value, at: here)
            case "enum":
                guard case .array(let options) = value else { throw wrong("an array") }
                node.enumValues = options
            case "const":
                node.constValue = value
            // Numbers.
            case "minimum": number.minimum = try numberValue(); hasNumber = true
            case "maximum": number.maximum = try numberValue(); hasNumber = true
            case "exclusiveMinimum", "exclusiveMaximum":
                let isMinimum = keyword == "exclusiveMinimum"
                switch value {
                case .number(let n):
                    if isMinimum { number.exclusiveMinimum = n } else { number.exclusiveMaximum = n }
                case .bool(let flag):
                    // Draft-4 form: makes minimum/maximum exclusive (stricter, never looser).
                    if isMinimum { number.minimumIsExclusive = flag } else { number.maximumIsExclusive = flag }
                default:
                    throw wrong("a number")
                }
                hasNumber = true
            case "multipleOf":
                guard case .number(let n) = value, let divisor = _Divisor(n) else {
                    throw wrong("a number greater than 0 with at most \(_Divisor.maximumDigits) significant digits")
                }
                number.multipleOf = divisor
                hasNumber = true
            // Strings.
            case "minLength": string.minLength = try count(); hasString = true
            case "maxLength": string.maxLength = try count(); hasString = true
            case "pattern":
                string.pattern = try Self.regex(try text(), at: here)
                hasString = true
            case "format", "contentMediaType", "contentEncoding", "$comment", "title", "description":
                _ = try text()  // annotations: accepted, never asserted
            // Arrays.
            case "minItems": array.minItems = try count(); hasArray = true
            case "maxItems": array.maxItems = try count(); hasArray = true
            case "uniqueItems":
                guard case .bool(let flag) = value else { throw wrong("a boolean") }
                array.uniqueItems = flag
                hasArray = true
            case "prefixItems": array.prefixItems = try schemaList(value, keyword, at: here); hasArray = true
            case "items":
                if case .array = value {
                    throw JSONSchemaError("\"items\" must be a schema; the array (tuple) form is draft-07, "
                        + "write \"prefixItems\" instead", at: here)
                }
                array.items = try schema(value, at: here)
                hasArray = true
            case "contains": array.contains = try schema(value, at: here); hasArray = true
            case "minContains": array.minContains = try count(); hasArray = true
            case "maxContains": array.maxContains = try count(); hasArray = true
            // Objects.
            case "minProperties": object.minProperties = try count(); hasObject = true
            case "maxProperties": object.maxProperties = try count(); hasObject = true
            case "required":
                object.required = try Self.strings(value, keyword, at: here)
                hasObject = true
            case "properties":
                object.properties = try schemaMap(value, keyword, at: here)
                if object.properties.count > 8 {
                    object.propertyIndex = Dictionary(object.properties.map { (_ExactString($0.name), $0.node) },
                                                      uniquingKeysWith: { first, _ in first })
                }
                hasObject = true
            case "patternProperties":
                for (source, node) in try schemaMap(value, keyword, at: here) {
                    object.patternProperties.append((try Self.regex(source, at: here + "/" + Self.escape(source)), node))
                }
                hasObject = true
            case "additionalProperties": object.additionalProperties = try schema(value, at: here); hasObject = true
            case "propertyNames": object.propertyNames = try schema(value, at: here); hasObject = true
            case "dependentRequired":
                guard case .object(let members) = value else { throw wrong("an object of string arrays") }
                for (name, names) in members {
                    object.dependentRequired.append((name, try Self.strings(names, keyword, at: here + "/" + Self.escape(name))))
                }
                hasObject = true
            case "dependentSchemas": object.dependentSchemas = try schemaMap(value, keyword, at: here); hasObject = true
            // Applicators on the value itself.
            case "allOf": node.allOf = try schemaList(value, keyword, at: here)
            case "anyOf": node.anyOf = try schemaList(value, keyword, at: here)
            case "oneOf": node.oneOf = try schemaList(value, keyword, at: here)
            case "not": node.not = try schema(value, at: here)
            case "if": node.ifSchema = try schema(value, at: here)
            case "then": node.thenSchema = try schema(value, at: here)
            case "else": node.elseSchema = try schema(value, at: here)
            // References and identifiers.
            case "$ref":
                pendingRefs.append((id, try text(), here))
            case "$defs", "definitions":
                _ = try schemaMap(value, keyword, at: here)
            case "$anchor":
                let name = try text()
                guard Self.isAnchorName(name) else {
                    throw JSONSchemaError("$anchor \(_short(value)) is not a valid name "
                        + "(a letter or '_', then letters, digits, '-', '_' or '.')", at: here)
                }
                guard anchors.updateValue(id, forKey: _ExactString(name)) == nil else {
                    throw JSONSchemaError("$anchor \(_short(value)) is defined twice", at: here)
                }
            case "$id":
                rootID = try Self.rootIdentifier(try text(), isRoot: isRoot, at: here)
            case "$schema":
                let uri = try text()
                guard isRoot else { throw JSONSchemaError("\"$schema\" is only supported at the schema root", at: here) }
                guard Self.isPublishedDialect(uri) else {
                    throw JSONSchemaError("\"$schema\" \(_short(value)) is not a published JSON Schema dialect; a custom "
                        + "meta-schema may change what keywords mean, so only draft-04 to 2020-12 are accepted "
                        + "(all read with 2020-12 semantics)", at: here)
                }
            // Annotations of other types.
            case "default":
                break
            case "examples":
                guard case .array = value else { throw wrong("an array") }
            case "deprecated", "readOnly", "writeOnly":
                guard case .bool = value else { throw wrong("a boolean") }
            case "contentSchema":
                _ = try schema(value, at: here)  // checked, but an annotation: never applied
            default:
                throw Self.unsupported(keyword, at: location)
            }
        }
        if hasNumber { node.number = number }
        if hasString { node.string = string }
        if hasArray { node.array = array }
        if hasObject { node.object = object }
    }

    static func unsupported(_ keyword: String, at location: String) -> JSONSchemaError {
        let reason = refusedKeywords[keyword].map { " (\($0))" } ?? ""
        return JSONSchemaError("unsupported keyword \(_short(.string(keyword)))\(reason)", at: location)
    }

    /// `type`: one name or a non-empty array of names.
    static func typeSet(_ value: JSONValue, at location: String) throws(JSONSchemaError) -> (_JSONTypeSet, [String]) {
        let names: [JSONValue]
        switch value {
        case .string: names = [value]
        case .array(let a) where !a.isEmpty: names = a
        default: throw JSONSchemaError.wrongType("type", "a type name or a non-empty array of type names", value, at: location)
        }
        var set: _JSONTypeSet = []
        var written: [String] = []
        for name in names {
            guard case .string(let s) = name, let type = _JSONTypeSet.byName.first(where: { _sameBytes($0.0, s) })?.1 else {
                throw JSONSchemaError("unknown type \(_short(name)) in \"type\" (expected one of "
                    + _JSONTypeSet.byName.map(\.0).joined(separator: ", ") + ")", at: location)
            }
            set.insert(type)
            written.append(s)
        }
        return (set, written)
    }

    static func strings(_ value: JSONValue, _ keyword: String, at location: String) throws(JSONSchemaError) -> [String] {
        guard case .array(let elements) = value else {
            throw JSONSchemaError.wrongType(keyword, "an array of strings", value, at: location)
        }
        var out: [String] = []
        for e in elements {
            guard case .string(let s) = e else {
                throw JSONSchemaError.wrongType(keyword, "an array of strings", value, at: location)
            }
            out.append(s)
        }
        return out
    }

    static func regex(_ source: String, at location: String) throws(JSONSchemaError) -> _JSONRegex {
        do { return try _JSONRegex(source) } catch {
            throw JSONSchemaError("pattern \(_short(.string(source))) is not a supported regular expression: "
                + "\(error.message) (at character \(error.offset))", at: location)
        }
    }

    /// A non-negative integral number as an Int (huge values clamp to Int.max).
    static func count(_ value: JSONValue) -> Int? {
        guard case .number(let n) = value else { return nil }
        if let i = n.int64 { return i >= 0 ? Int(i) : nil }
        guard n.isIntegral, n.compare(JSONNumber(Int64(0))) >= 0 else { return nil }
        // 2.0, 1e3: integral but not plain integer literals.
        guard let d = n.double, d < 9.2e18 else { return Int.max }
        return Int(d)
    }

    static func isAnchorName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
        guard letter(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.allSatisfy { c in
            letter(c) || _JSONScan.isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
    }

    /// The meta-schema URIs of the published drafts (http or https, with or without the empty fragment).
    static func isPublishedDialect(_ uri: String) -> Bool {
        var bytes = Array(uri.utf8)
        if bytes.last == UInt8(ascii: "#") { bytes.removeLast() }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("https://") { text = "http://" + text.dropFirst("https://".count) }
        let known = ["http://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft/2019-09/schema",
                     "http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-06/schema",
                     "http://json-schema.org/draft-04/schema", "http://json-schema.org/schema"]
        return known.contains { _sameBytes($0, text) }
    }

    /// The root `$id` (its empty fragment dropped); `$id` elsewhere would start a second
    /// resource with its own base URI, which this validator does not model.
    static func rootIdentifier(_ id: String, isRoot: Bool, at location: String) throws(JSONSchemaError) -> String {
        guard isRoot else {
            throw JSONSchemaError("\"$id\" is only supported at the schema root (embedded resources are not supported)",
                                  at: location)
        }
        var bytes = Array(id.utf8)
        if bytes.last == UInt8(ascii: "#") { bytes.removeLast() }
        guard !bytes.contains(UInt8(ascii: "#")) else {
            throw JSONSchemaError("\"$id\" may not have a fragment (write \"$anchor\" to name a schema)", at: location)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
