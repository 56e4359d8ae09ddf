// Array and object keywords. Members and items are checked with their index or key pushed
// on the path, so violations name the exact JSON Pointer of the offending value.

extension _SchemaValidator {
    mutating func checkArray(_ a: [JSONValue], _ r: _ArrayRules, report: Bool) -> Bool {
        var valid = true
        if let min = r.minItems, a.count < min {
            if !report { return false }
            valid = false
            self.report("array has \(a.count) items, fewer than minItems \(min)")
        }
        if let max = r.maxItems, a.count > max {
            if !report { return false }
            valid = false
            self.report("array has \(a.count) items, more than maxItems \(max)")
        }
        if r.uniqueItems, let (i, j) = Self.firstDuplicate(a) {
            if !report { return false }
            valid = false
            self.report("items \(i) and \(j) are equal, but uniqueItems requires distinct items")
        }
        for i in a.indices {
            let sub: Int
            if i < r.prefixItems.count { sub = r.prefixItems[i] } else if let items = r.items { sub = items } else { break }
            path.append(.index(i))
            let ok = check(a[i], sub, report: report)
            path.removeLast()
            if !ok {
                if !report { return false }
                valid = false
            }
        }
        if let contains = r.contains {
            var matches = 0
            for (i, element) in a.enumerated() {
                path.append(.index(i))
                if check(element, contains, report: false) { matches += 1 }
                path.removeLast()
                if r.maxContains == nil && matches >= r.minContains { break }
            }
            if matches < r.minContains {
                if !report { return false }
                valid = false
                self.report(r.minContains == 1 ? "no item matches the \"contains\" schema"
                    : "\(matches) items match the \"contains\" schema, fewer than minContains \(r.minContains)")
            }
            if let max = r.maxContains, matches > max {
                if !report { return false }
                valid = false
                self.report("\(matches) items match the \"contains\" schema, more than maxContains \(max)")
            }
        }
        return valid
    }

    /// The first pair of equal items (JSON equality: 1 == 1.0, member order ignored, exact strings).
    static func firstDuplicate(_ a: [JSONValue]) -> (Int, Int)? {
        if a.count <= 16 {
            for j in a.indices {
                for i in 0..<j where a[i] == a[j] { return (i, j) }
            }
            return nil
        }
        var seen: [JSONValue: Int] = [:]
        for (j, v) in a.enumerated() {
            if let i = seen[v] { return (i, j) }
            seen[v] = j
        }
        return nil
    }

    mutating func checkObject(_ o: JSONObject, _ value: JSONValue, _ r: _ObjectRules, report: Bool) -> Bool {
        var valid = true
        func fail(_ message: @autoclosure () -> String) -> Bool {
            valid = false
            guard report else { return false }
            self.report(message())
            return true
        }
        if let min = r.minProperties, o.count < min,
           !fail("object has \(o.count) properties, fewer than minProperties \(min)") { return false }
        if let max = r.maxProperties, o.count > max,
           !fail("object has \(o.count) properties, more than maxProperties \(max)") { return false }
        for name in r.required where !o.contains(key: name) {
            if !fail("missing required property \(_short(.string(name)))") { return false }
        }
        for (name, names) in r.dependentRequired where o.contains(key: name) {
            for other in names where !o.contains(key: other) {
                if !fail("property \(_short(.string(other))) is required when \(_short(.string(name))) is present") {
                    return false
                }
            }
        }
        if !r.properties.isEmpty || !r.patternProperties.isEmpty || r.additionalProperties != nil {
            for (key, member) in o where !checkMember(key, member, o, r, report: report) {
                valid = false
                if !report { return false }
            }
        }
        if let names = r.propertyNames {
            for key in o.keys where !check(.string(key), names, report: false) {
                let why = firstViolation(.string(key), names).map { ": \($0.message)" } ?? ""
                if !fail("property name \(_short(.string(key))) does not match \"propertyNames\"\(why)") { return false }
            }
        }
        for (name, sub) in r.dependentSchemas where o.contains(key: name) && !check(value, sub, report: report) {
            valid = false
            if !report { return false }
        }
        return valid
    }

    /// `properties`, `patternProperties` and `additionalProperties` for one member.
    mutating func checkMember(_ key: String, _ member: JSONValue, _ o: JSONObject, _ r: _ObjectRules,
                              report: Bool) -> Bool {
        var valid = true
        var matched = false
        if !r.properties.isEmpty, let sub = r.property(named: key) {
            matched = true
            path.append(.key(key))
            valid = check(member, sub, report: report)
            path.removeLast()
            if !valid && !report { return false }
        }
        if !r.patternProperties.isEmpty {
            let scalars = key.unicodeScalars.map(\.value)
            for (regex, sub) in r.patternProperties {
                switch regex.search(scalars, budget: &patternSteps) {
                case true?:
                    matched = true
                    path.append(.key(key))
                    let ok = check(member, sub, report: report)
                    path.removeLast()
                    if !ok {
                        if !report { return false }
                        valid = false
                    }
                case false?:
                    continue
                case nil:
                    patternBudgetRanOut(regex)
                    return false
                }
            }
        }
        guard !matched, let additional = r.additionalProperties else { return valid }
        if nodes[additional].verdict == .nothing {
            if report { self.report("unexpected property \(_short(.string(key)))" + Self.allowedNames(r)) }
            return false
        }
        path.append(.key(key))
        defer { path.removeLast() }
        return check(member, additional, report: report) && valid
    }

    /// " (allowed: …)" for an unexpected property.
    static func allowedNames(_ r: _ObjectRules) -> String {
        var parts = r.properties.prefix(10).map { _short(.string($0.name)) }
        if r.properties.count > 10 { parts.append("…") }
        let patterns = r.patternProperties.prefix(5).map { _short(.string($0.regex.source)) }
        if !patterns.isEmpty { parts.append("names matching " + patterns.joined(separator: " or ")) }
        return parts.isEmpty ? " (no properties are allowed)" : " (allowed: \(parts.joined(separator: ", ")))"
    }
}
