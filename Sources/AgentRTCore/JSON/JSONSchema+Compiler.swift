// Turns a schema document into `_SchemaNode`s: registers every schema by its JSON Pointer,
// resolves `$ref` (same-document pointers and `$anchor` names only) and refuses `$ref`
// cycles that never descend into the value, which would recurse forever.

/// Builds the nodes of one schema document.
struct _SchemaCompiler {
    let document: JSONValue
    var nodes: [_SchemaNode] = []
    /// Schema location (canonical JSON Pointer) → node.
    var byLocation: [_ExactString: Int] = [:]
    /// `$anchor` name → node.
    var anchors: [_ExactString: Int] = [:]
    /// `$ref`s to resolve once every schema of the document is known.
    var pendingRefs: [(node: Int, ref: String, location: String)] = []
    /// The root `$id` without its (empty) fragment: a `$ref` may name the document by it.
    var rootID: String?
    /// Subschemas being compiled, innermost last (the compiler recurses per level).
    var depth = 0
    /// Schemas nested deeper than this are refused at load. Compiling and validating recurse per
    /// level, and schemas are compiled on whatever thread registers them (a Swift task's small
    /// stack, larger still under sanitizers), so the bound is well below the parser's 256; real
    /// tool and agent schemas nest a handful of levels.
    static let maximumDepth = 64

    init(_ document: JSONValue) { self.document = document }

    static func compile(_ document: JSONValue) throws(JSONSchemaError) -> [_SchemaNode] {
        var compiler = _SchemaCompiler(document)
        _ = try compiler.schema(document, at: "", isRoot: true)
        while let pending = compiler.pendingRefs.popLast() {
            let target = try compiler.resolve(pending.ref, at: pending.location)
            compiler.nodes[pending.node].ref = target
        }
        try compiler.refuseInPlaceCycles()
        return compiler.nodes
    }

    /// The node of the schema `value` at `location`, compiling it on first sight.
    mutating func schema(_ value: JSONValue, at location: String, isRoot: Bool = false) throws(JSONSchemaError) -> Int {
        if let existing = byLocation[_ExactString(location)] { return existing }
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw JSONSchemaError("schemas nest deeper than \(Self.maximumDepth) levels", at: location)
        }
        let node = _SchemaNode(location: location)
        let id = nodes.count
        nodes.append(node)
        byLocation[_ExactString(location)] = id
        switch value {
        case .bool(true): node.verdict = .anything
        case .bool(false): node.verdict = .nothing
        case .object(let keywords): try compileKeywords(keywords, into: node, id: id, at: location, isRoot: isRoot)
        default:
            throw JSONSchemaError("a schema must be an object or a boolean, got \(value.typeName) \(_short(value))",
                                  at: location)
        }
        return id
    }

    /// Every member of an object of schemas (`properties`, `$defs`, …).
    mutating func schemaMap(_ value: JSONValue, _ keyword: String, at location: String)
        throws(JSONSchemaError) -> [(name: String, node: Int)] {
        guard case .object(let members) = value else {
            throw JSONSchemaError.wrongType(keyword, "an object of schemas", value, at: location)
        }
        var out: [(name: String, node: Int)] = []
        out.reserveCapacity(members.count)
        for (name, sub) in members {
            out.append((name, try schema(sub, at: location + "/" + Self.escape(name))))
        }
        return out
    }

    /// A non-empty array of schemas (`allOf`, `prefixItems`, …).
    mutating func schemaList(_ value: JSONValue, _ keyword: String, at location: String) throws(JSONSchemaError) -> [Int] {
        guard case .array(let elements) = value, !elements.isEmpty else {
            throw JSONSchemaError.wrongType(keyword, "a non-empty array of schemas", value, at: location)
        }
        var out: [Int] = []
        for (i, sub) in elements.enumerated() { out.append(try schema(sub, at: "\(location)/\(i)")) }
        return out
    }

    // MARK: $ref

    /// The node a `$ref` names: `#`, `#/json/pointer` (percent-encoded as in a URI fragment)
    /// or `#anchor`, optionally after the root `$id`. Anything else would need another document.
    mutating func resolve(_ ref: String, at location: String) throws(JSONSchemaError) -> Int {
        let bytes = Array(ref.utf8)
        let hash = bytes.firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
        let base = String(decoding: bytes[..<hash], as: UTF8.self)
        if !base.isEmpty && !(rootID.map { _sameBytes($0, base) } ?? false) {
            throw JSONSchemaError("$ref \(_short(.string(ref))) refers to another document; only references within "
                + "this schema (\"#\", \"#/$defs/name\", \"#anchor\") are supported", at: location)
        }
        let fragmentBytes = hash < bytes.count ? Array(bytes[(hash + 1)...]) : []
        guard let fragment = Self.percentDecode(fragmentBytes) else {
            throw JSONSchemaError("$ref \(_short(.string(ref))) has an invalid percent-encoding", at: location)
        }
        if fragment.isEmpty { return 0 }
        if fragment.utf8.first != UInt8(ascii: "/") {
            guard let node = anchors[_ExactString(fragment)] else {
                throw JSONSchemaError("$ref \(_short(.string(ref))) names no $anchor of this schema", at: location)
            }
            return node
        }
        // Walk the document along the pointer, then compile what it reaches (usually already done).
        var tokens = fragment.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
            .map { String(decoding: $0, as: UTF8.self) }
        var target = document
        var canonical = ""
        for k in tokens.indices {
            guard let token = Self.unescape(tokens[k]) else {
                throw JSONSchemaError("$ref \(_short(.string(ref))) has an invalid JSON Pointer escape "
                    + "(only ~0 and ~1 are allowed)", at: location)
            }
            tokens[k] = token
            switch target {
            case .object(let members) where members[token] != nil:
                target = members[token]!
            case .array(let elements) where Self.arrayIndex(token).map({ $0 < elements.count }) ?? false:
                target = elements[Self.arrayIndex(token)!]
            default:
                throw JSONSchemaError("$ref \(_short(.string(ref))) points to nothing in this schema", at: location)
            }
            canonical += "/" + Self.escape(token)
        }
        if let node = byLocation[_ExactString(canonical)] { return node }
        return try schema(target, at: canonical)
    }

    /// Refuses a cycle of subschemas applied to the same value (e.g. `{"$ref": "#"}`, or two
    /// `$defs` referring to each other), naming the schemas on it.
    func refuseInPlaceCycles() throws(JSONSchemaError) {
        enum Mark { case unvisited, active, done }
        var marks = [Mark](repeating: .unvisited, count: nodes.count)
        var stack: [(node: Int, next: Int)] = []
        for root in nodes.indices where marks[root] == .unvisited {
            stack.append((root, 0))
            marks[root] = .active
            while let top = stack.last {
                let children = nodes[top.node].inPlaceChildren
                if top.next == children.count {
                    marks[top.node] = .done
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let child = children[top.next]
                switch marks[child] {
                case .unvisited:
                    marks[child] = .active
                    stack.append((child, 0))
                case .active:
                    let start = stack.firstIndex { $0.node == child } ?? 0
                    let cycle = (stack[start...].map(\.node) + [child]).map { Self.show(nodes[$0].location) }
                    throw JSONSchemaError("schemas refer to each other without descending into the value, which "
                        + "would never finish: " + cycle.joined(separator: " → "), at: nodes[child].location)
                case .done:
                    break
                }
            }
        }
    }

    // MARK: JSON Pointer and URI fragments

    /// RFC 6901 escaping of one token.
    static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        var out = ""
        for c in token.unicodeScalars {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// RFC 6901 unescaping; nil for a `~` not followed by 0 or 1.
    static func unescape(_ token: String) -> String? {
        guard token.utf8.contains(UInt8(ascii: "~")) else { return token }
        var out: [UInt8] = []
        var bytes = token.utf8.makeIterator()
        while let c = bytes.next() {
            guard c == UInt8(ascii: "~") else { out.append(c); continue }
            switch bytes.next() {
            case UInt8(ascii: "0"): out.append(UInt8(ascii: "~"))
            case UInt8(ascii: "1"): out.append(UInt8(ascii: "/"))
            default: return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `%XX` decoding of a URI fragment; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecode(_ bytes: [UInt8]) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = _JSONScan.hexValue(bytes[i + 1]), let lo = _JSONScan.hexValue(bytes[i + 2])
                else { return nil }
                out.append(UInt8(hi << 4 | lo))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// An array index token: digits without a leading zero.
    static func arrayIndex(_ token: String) -> Int? {
        guard let first = token.utf8.first, token.utf8.allSatisfy(_JSONScan.isDigit),
              first != UInt8(ascii: "0") || token.utf8.count == 1 else { return nil }
        return Int(token)
    }

    /// A schema location for messages.
    static func show(_ pointer: String) -> String { pointer.isEmpty ? "the schema root" : pointer }
}
