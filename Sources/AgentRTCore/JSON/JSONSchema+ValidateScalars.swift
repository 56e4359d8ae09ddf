// Number and string keywords: exact bounds, exact multipleOf, code-point lengths, patterns.

extension _SchemaValidator {
    mutating func checkNumber(_ n: JSONNumber, _ r: _NumberRules, report: Bool) -> Bool {
        var valid = true
        if let m = r.minimum {
            let c = n.compare(m)
            if c < 0 || (r.minimumIsExclusive && c == 0) {
                if !report { return false }
                valid = false
                self.report(r.minimumIsExclusive ? "\(n) is not greater than exclusive minimum \(m)"
                                                 : "\(n) is less than minimum \(m)")
            }
        }
        if let m = r.maximum {
            let c = n.compare(m)
            if c > 0 || (r.maximumIsExclusive && c == 0) {
                if !report { return false }
                valid = false
                self.report(r.maximumIsExclusive ? "\(n) is not less than exclusive maximum \(m)"
                                                 : "\(n) is greater than maximum \(m)")
            }
        }
        if let m = r.exclusiveMinimum, n.compare(m) <= 0 {
            if !report { return false }
            valid = false
            self.report("\(n) is not greater than exclusiveMinimum \(m)")
        }
        if let m = r.exclusiveMaximum, n.compare(m) >= 0 {
            if !report { return false }
            valid = false
            self.report("\(n) is not less than exclusiveMaximum \(m)")
        }
        if let d = r.multipleOf, !d.divides(n) {
            if !report { return false }
            valid = false
            self.report("\(n) is not a multiple of \(d.text)")
        }
        return valid
    }

    mutating func checkString(_ s: String, _ r: _StringRules, report: Bool) -> Bool {
        var valid = true
        if r.minLength != nil || r.maxLength != nil {
            // Code points, as JSON Schema counts: not UTF-8 bytes, not grapheme clusters.
            let length = s.unicodeScalars.count
            if let min = r.minLength, length < min {
                if !report { return false }
                valid = false
                self.report("string is \(length) characters long, shorter than minLength \(min)")
            }
            if let max = r.maxLength, length > max {
                if !report { return false }
                valid = false
                self.report("string is \(length) characters long, longer than maxLength \(max)")
            }
        }
        if let regex = r.pattern {
            switch regex.search(s, budget: &patternSteps) {
            case true?:
                break
            case false?:
                if !report { return false }
                valid = false
                self.report("does not match pattern \(_short(.string(regex.source)))")
            case nil:
                patternBudgetRanOut(regex)
                return false
            }
        }
        return valid
    }

    /// Fail closed: the value is refused, whatever `not` or `anyOf` around the pattern says.
    mutating func patternBudgetRanOut(_ regex: _JSONRegex) {
        reportFatal("matching pattern \(_short(.string(regex.source))) took more than \(JSONSchema.patternStepBudget) "
            + "steps (catastrophic backtracking); the value is refused")
    }
}
