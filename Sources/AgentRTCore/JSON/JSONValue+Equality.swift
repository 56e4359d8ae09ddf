// Exact JSON equality. Swift's String == compares by canonical equivalence, under which
// "e\u{301}" equals "\u{E9}"; JSON (RFC 8259 §8.3) and JSON Schema compare strings by code
// points, so every comparison of JSON strings here goes through their bytes.

extension JSONValue {
    /// JSON equality (see the type's documentation): strings by exact bytes, numbers by value.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): _sameBytes(a, b)
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// Consistent with `==`: byte-equal strings hash equally (String's hash is coarser, which is fine).
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .number(let n): hasher.combine(2); hasher.combine(n)
        case .string(let s): hasher.combine(3); hasher.combine(s)
        case .array(let a): hasher.combine(4); hasher.combine(a)
        case .object(let o): hasher.combine(5); hasher.combine(o)
        }
    }
}

/// True when `a` and `b` hold the same UTF-8 bytes (no Unicode normalization).
@inline(__always)
func _sameBytes(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
}

/// A String compared by its bytes, for dictionaries and sets keyed by JSON strings.
struct _ExactString: Hashable {
    let value: String
    init(_ value: String) { self.value = value }
    static func == (lhs: _ExactString, rhs: _ExactString) -> Bool { _sameBytes(lhs.value, rhs.value) }
    /// String's hash is equal for byte-equal strings, so it is consistent with `==`.
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}
