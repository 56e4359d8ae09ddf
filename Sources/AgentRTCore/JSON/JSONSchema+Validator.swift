// Walks a value against compiled schema nodes. In reporting mode every violation is
// collected; in silent mode (inside anyOf, oneOf, not, if, contains, propertyNames) the
// walk stops at the first failure. A run-out pattern budget or excessive nesting is
// "fatal": recorded apart, so no `not` or `anyOf` can turn it into a pass (fail closed).

/// One validation of one value.
struct _SchemaValidator {
    /// Location steps of the value being checked, rendered only when something is reported.
    enum Step {
        case key(String)
        case index(Int)
    }

    /// Schema evaluations nested deeper than this refuse the value instead of risking the stack.
    static let maximumDepth = 1000

    let nodes: [_SchemaNode]
    var path: [Step] = []
    var violations: [JSONSchemaViolation] = []
    var fatal: [JSONSchemaViolation] = []
    var patternSteps = JSONSchema.patternStepBudget
    var depth = 0

    init(_ nodes: [_SchemaNode]) { self.nodes = nodes }

    /// What `validate` returns: the violations, then any fatal failure.
    var result: [JSONSchemaViolation] { fatal.isEmpty ? violations : violations + fatal }

    mutating func report(_ message: String) {
        violations.append(JSONSchemaViolation(path: renderPath(), message: message))
    }

    mutating func reportFatal(_ message: String) {
        if fatal.isEmpty { fatal.append(JSONSchemaViolation(path: renderPath(), message: message)) }
    }

    /// The JSON Pointer of the current value.
    func renderPath() -> String {
        var out = ""
        for step in path {
            switch step {
            case .index(let i): out += "/\(i)"
            case .key(let k): out += "/" + _SchemaCompiler.escape(k)
            }
        }
        return out
    }

    /// Whether `value` satisfies node `id`; with `report`, records every violation.
    mutating func check(_ value: JSONValue, _ id: Int, report: Bool) -> Bool {
        let node = nodes[id]
        switch node.verdict {
        case .anything: return true
        case .nothing:
            if report { self.report("no value is allowed here") }
            return false
        case .keywords: break
        }
        if !fatal.isEmpty { return false }
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth {
            reportFatal("the value and schema nest more than \(Self.maximumDepth) levels deep; the value is refused")
            return false
        }
        var valid = true
        if let types = node.types, !types.admits(value) {
            if !report { return false }
            valid = false
            let got = if case .number(let n) = value { "number \(n.text)" } else { value.typeName }
            self.report("expected \(node.typeNames.joined(separator: " or ")), got \(got)")
        }
        if let options = node.enumValues, !options.contains(value) {
            if !report { return false }
            valid = false
            self.report("\(_short(value)) is not one of the allowed values: "
                + (options.isEmpty ? "(none)" : options.map(_short).joined(separator: ", ")))
        }
        if let constant = node.constValue, constant != value {
            if !report { return false }
            valid = false
            self.report("expected constant \(_short(constant)), got \(_short(value))")
        }
        let typeValid: Bool
        switch value {
        case .number(let n): typeValid = node.number.map { checkNumber(n, $0, report: report) } ?? true
        case .string(let s): typeValid = node.string.map { checkString(s, $0, report: report) } ?? true
        case .array(let a): typeValid = node.array.map { checkArray(a, $0, report: report) } ?? true
        case .object(let o): typeValid = node.object.map { checkObject(o, value, $0, report: report) } ?? true
        case .null, .bool: typeValid = true
        }
        if !typeValid {
            if !report { return false }
            valid = false
        }
        return applyInPlace(value, node, report: report) && valid
    }

    /// `$ref`, `allOf`, `anyOf`, `oneOf`, `not` and `if`/`then`/`else`.
    mutating func applyInPlace(_ value: JSONValue, _ node: _SchemaNode, report: Bool) -> Bool {
        var valid = true
        if let ref = node.ref, !check(value, ref, report: report) {
            if !report { return false }
            valid = false
        }
        for sub in node.allOf where !check(value, sub, report: report) {
            if !report { return false }
            valid = false
        }
        if !node.anyOf.isEmpty {
            var matched = false
            for sub in node.anyOf where check(value, sub, report: false) { matched = true; break }
            if !matched {
                if !report { return false }
                valid = false
                self.report("does not match any schema in \"anyOf\"" + explain(value, node.anyOf))
            }
        }
        if !node.oneOf.isEmpty {
            var matches: [Int] = []
            for (k, sub) in node.oneOf.enumerated() where check(value, sub, report: false) {
                matches.append(k)
                if matches.count == 2 { break }
            }
            if matches.count != 1 {
                if !report { return false }
                valid = false
                self.report(matches.isEmpty ? "does not match any schema in \"oneOf\"" + explain(value, node.oneOf)
                    : "matches more than one schema in \"oneOf\" (\(matches[0]) and \(matches[1]))")
            }
        }
        if let not = node.not, check(value, not, report: false) {
            if !report { return false }
            valid = false
            self.report("must not match the schema in \"not\"")
        }
        if let condition = node.ifSchema {
            let branch = check(value, condition, report: false) ? node.thenSchema : node.elseSchema
            if let branch, !check(value, branch, report: report) {
                if !report { return false }
                valid = false
            }
        }
        return valid
    }

    /// " (0: why; 1: why; …)": the first violation of each of the first few alternatives.
    mutating func explain(_ value: JSONValue, _ alternatives: [Int]) -> String {
        let here = renderPath()
        var parts: [String] = []
        for (k, sub) in alternatives.prefix(3).enumerated() {
            if let why = firstViolation(value, sub) {
                parts.append("\(k): " + (why.path == here ? why.message : "\(why.path): \(why.message)"))
            }
        }
        if alternatives.count > 3 { parts.append("…") }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
    }

    /// The first violation `value` has against node `id`, without keeping any.
    mutating func firstViolation(_ value: JSONValue, _ id: Int) -> JSONSchemaViolation? {
        let mark = violations.count
        _ = check(value, id, report: true)
        let first = violations.count > mark ? violations[mark] : nil
        violations.removeSubrange(mark...)
        return first
    }
}
