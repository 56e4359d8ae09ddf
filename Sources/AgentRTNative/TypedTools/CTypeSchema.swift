public import AgentRTCore

extension CPrototype {
    /// The JSON Schema of the tool's arguments: an object with one required property per
    /// parameter and no other properties. Integer properties carry the exact range of their C type.
    public var inputSchema: JSONValue {
        var properties = JSONObject()
        for parameter in parameters {
            properties[parameter.name] = parameter.type.valueSchema(nullable: false)
        }
        return .object(JSONObject([
            ("type", .string("object")),
            ("properties", .object(properties)),
            ("required", .array(parameters.map { .string($0.name) })),
            ("additionalProperties", .bool(false)),
        ]))
    }

    /// The JSON Schema of the tool's result, or nil for a `void` function. A `const char *`
    /// result may be null (NULL pointer); a NaN or infinite `float`/`double` is an error, not null.
    public var outputSchema: JSONValue? {
        // Not a ternary: its `nil` would become JSONValue's nil literal, i.e. `.null`.
        guard returnType != .void else { return nil }
        return returnType.valueSchema(nullable: true)
    }
}

extension CType {
    /// The schema of one value of this type; `nullable` admits null where the runtime may produce it.
    func valueSchema(nullable: Bool) -> JSONValue {
        func type(_ name: String, orNull: Bool) -> JSONValue {
            orNull ? .array([.string(name), .string("null")]) : .string(name)
        }
        switch self {
        case .void:
            return .object(JSONObject([("type", .string("null"))]))
        case .bool:
            return .object(JSONObject([("type", .string("boolean"))]))
        case .float, .double:
            return .object(JSONObject([("type", .string("number"))]))
        case .cString:
            return .object(JSONObject([("type", type("string", orNull: nullable))]))
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .int, .long, .sizeT:
            return .object(JSONObject([
                ("type", .string("integer")),
                ("minimum", .number(JSONNumber(integerMinimum))),
                ("maximum", .number(JSONNumber(integerMaximum))),
            ]))
        }
    }
}
