// Pure-Swift JSON value model (no Foundation): values, numbers that keep their
// literal text, and insertion-ordered objects.

/// A JSON value as defined by RFC 8259.
///
/// Equality is JSON equality: numbers compare by mathematical value (`1 == 1.0`),
/// objects by members regardless of member order, and strings (values and keys) by their
/// exact code points. Swift's `String ==` uses canonical equivalence ("e\u{301}" == "é"),
/// which JSON does not: two different texts would compare equal and a schema's `const`,
/// `enum` or `uniqueItems` could be satisfied by a string it does not allow.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

// MARK: - JSONNumber

/// A JSON number that keeps its literal text, so big integers and decimals
/// survive a parse/serialize round trip without loss.
///
/// Two numbers are equal when they denote the same value (`1`, `1.0` and `10e-1`
/// are equal); `text` still reflects how each was written.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number literal as written; canonical (`String(v)`) for numbers made from integers.
    public let text: String

    /// Wraps text that is already known to be a valid JSON number literal.
    init(uncheckedText text: String) { self.text = text }

    /// Creates a number from a signed integer.
    public init(_ v: Int64) { text = String(v) }

    /// Creates a number from an unsigned integer.
    public init(_ v: UInt64) { text = String(v) }

    /// Creates a number from a finite double, printed with Swift's shortest
    /// round-trip form (`1.0` stays `"1.0"`). Non-finite values trap: JSON has no
    /// NaN or infinity, so call sites should use `JSONValue.double(_:)`, which maps them to `null`.
    public init(_ v: Double) {
        precondition(v.isFinite, "JSON cannot represent \(v); use JSONValue.double(_:) to get null")
        text = v.description
    }

    /// Creates a number from a literal, or returns nil if `literal` is not a valid JSON number.
    public init?(literal: String) {
        var copy = literal
        let ok = copy.withUTF8 { buf -> Bool in
            let raw = UnsafeRawBufferPointer(buf)
            guard let end = try? _JSONScan.number(raw, from: 0) else { return false }
            return end == raw.count
        }
        guard ok else { return nil }
        text = literal
    }

    /// The literal text.
    public var description: String { text }

    /// True when the literal is a plain integer (no fraction and no exponent).
    public var isInteger: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The exact value if the literal is a plain integer that fits in `Int64`.
    public var int64: Int64? { isInteger ? Int64(text) : nil }

    /// The exact value if the literal is a plain integer that fits in `UInt64` (`-0` gives 0).
    public var uint64: UInt64? {
        guard isInteger else { return nil }
        if text.utf8.first == UInt8(ascii: "-") { return int64 == 0 ? 0 : nil }
        return UInt64(text)
    }

    /// The nearest `Double`, or nil if the magnitude overflows to infinity.
    public var double: Double? {
        guard let d = Double(text), d.isFinite else { return nil }
        return d
    }

    /// True when the value is mathematically an integer, whatever the notation (`2.0`, `1e3`).
    var isIntegral: Bool { isInteger || _JSONDecimal(text).isIntegral }

    /// Exact three-way comparison of the values (-1, 0, 1).
    func compare(_ other: JSONNumber) -> Int {
        // Fast, allocation-free paths for the common integer cases.
        if let a = int64, let b = other.int64 { return a < b ? -1 : (a == b ? 0 : 1) }
        if let a = uint64, let b = other.uint64 { return a < b ? -1 : (a == b ? 0 : 1) }
        return _JSONDecimal(text).compare(_JSONDecimal(other.text))
    }

    /// True when both denote the same mathematical value.
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.text == rhs.text || _JSONDecimal(lhs.text) == _JSONDecimal(rhs.text)
    }

    /// Hashes the normalized value, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(_JSONDecimal(text))
    }
}

/// Exact decimal form of a number literal: value = ±0.d1d2…dn × 10^exponent, with
/// no leading or trailing zero digits; zero has no digits. Used for exact equality,
/// ordering and integrality checks without going through Double.
struct _JSONDecimal: Hashable {
    var negative = false
    var digits: [UInt8] = []
    var exponent = 0

    init(_ text: String) {
        var seen = 0            // mantissa digits seen so far
        var intCount: Int?      // mantissa digits before the decimal point
        var firstSignificant = -1
        var exp10 = 0
        var expNegative = false
        var inExponent = false
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "-"):
                if inExponent { expNegative = true } else { negative = true }
            case UInt8(ascii: "."):
                intCount = seen
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                inExponent = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inExponent {
                    // Saturate absurd exponents instead of overflowing.
                    if exp10 < 1 << 48 { exp10 = exp10 &* 10 &+ Int(c &- UInt8(ascii: "0")) }
                } else {
                    if firstSignificant < 0 && c != UInt8(ascii: "0") { firstSignificant = seen }
                    if firstSignificant >= 0 { digits.append(c) }
                    seen += 1
                }
            default:
                break  // '+' in the exponent
            }
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { negative = false; return }
        exponent = (intCount ?? seen) - firstSignificant + (expNegative ? -exp10 : exp10)
    }

    var isZero: Bool { digits.isEmpty }
    var isIntegral: Bool { digits.count <= exponent || isZero }

    func compare(_ other: _JSONDecimal) -> Int {
        let sa = isZero ? 0 : (negative ? -1 : 1)
        let sb = other.isZero ? 0 : (other.negative ? -1 : 1)
        if sa != sb { return sa < sb ? -1 : 1 }
        if sa == 0 { return 0 }
        var magnitude: Int
        if exponent != other.exponent {
            magnitude = exponent < other.exponent ? -1 : 1
        } else if digits == other.digits {
            magnitude = 0
        } else {
            magnitude = digits.lexicographicallyPrecedes(other.digits) ? -1 : 1
        }
        return sa * magnitude
    }
}

// MARK: - JSONObject

/// An insertion-ordered JSON object with unique keys.
///
/// Setting an existing key replaces its value in place; setting `nil` removes it.
/// Equality ignores member order, matching JSON semantics. Keys are distinct unless
/// byte-for-byte equal: "\u{C5}" and "A\u{30A}" are two members.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    private var _keys: [String] = []
    private var _values: [JSONValue] = []
    /// Key → position, built only for larger objects; small ones use a linear scan,
    /// which is faster and spares a dictionary allocation per parsed object. Keys are
    /// compared by their bytes, so canonically equivalent keys stay distinct members.
    private var _index: [_ExactString: Int]?
    private static let indexThreshold = 8

    /// Creates an empty object.
    public init() {}

    /// Creates an object from pairs in order; a later duplicate key replaces the earlier value.
    public init(_ pairs: [(String, JSONValue)]) {
        _keys.reserveCapacity(pairs.count)
        _values.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// Creates an object from a dictionary literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    /// The value for `key`; assigning `nil` removes the member.
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { _values[$0] } }
        set {
            if let i = position(of: key) {
                if let newValue { _values[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                append(key, newValue)
            }
        }
    }

    /// Member names in insertion order.
    public var keys: [String] { _keys }
    /// Member values in insertion order.
    public var values: [JSONValue] { _values }
    /// Number of members.
    public var count: Int { _keys.count }
    /// True when the object has no members.
    public var isEmpty: Bool { _keys.isEmpty }

    /// Removes `key` and returns its value, if present.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = position(of: key) else { return nil }
        let v = _values[i]
        remove(at: i)
        return v
    }

    /// True when a member is named exactly `key`.
    public func contains(key: String) -> Bool { position(of: key) != nil }

    func position(of key: String) -> Int? {
        if let _index { return _index[_ExactString(key)] }
        return _keys.firstIndex { _sameBytes($0, key) }
    }

    /// Appends a member the caller knows is absent (the parser checks for duplicates first).
    mutating func appendNew(_ key: String, _ value: JSONValue) { append(key, value) }

    private mutating func append(_ key: String, _ value: JSONValue) {
        _keys.append(key)
        _values.append(value)
        if _index != nil {
            _index![_ExactString(key)] = _keys.count - 1
        } else if _keys.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    private mutating func remove(at i: Int) {
        _keys.remove(at: i)
        _values.remove(at: i)
        if _index != nil { rebuildIndex() }
    }

    private mutating func rebuildIndex() {
        guard _keys.count > Self.indexThreshold else { _index = nil; return }
        var index = [_ExactString: Int](minimumCapacity: _keys.count)
        for (i, k) in _keys.enumerated() { index[_ExactString(k)] = i }
        _index = index
    }

    /// Iterates members in insertion order.
    public struct Iterator: IteratorProtocol {
        fileprivate let object: JSONObject
        fileprivate var i = 0
        /// The next member, or nil at the end.
        public mutating func next() -> (key: String, value: JSONValue)? {
            guard i < object._keys.count else { return nil }
            defer { i += 1 }
            return (object._keys[i], object._values[i])
        }
    }

    /// Returns an iterator over `(key, value)` members in insertion order.
    public func makeIterator() -> Iterator { Iterator(object: self) }

    /// The member count.
    public var underestimatedCount: Int { count }

    /// True when both have the same members, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs._keys.elementsEqual(rhs._keys, by: _sameBytes) { return lhs._values == rhs._values }
        for (k, v) in lhs where rhs[k] != v { return false }
        return true
    }

    /// Hashes members order-independently, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        // Order-independent: combine per-member hashes commutatively.
        var sum = 0
        for (k, v) in self {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            sum = sum &+ h.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }
}

// MARK: - Construction helpers and literals

extension JSONValue {
    /// A number from any integer type (arbitrary width, printed exactly).
    public static func int<T: BinaryInteger>(_ v: T) -> JSONValue {
        .number(JSONNumber(uncheckedText: String(v)))
    }

    /// A number from a double; NaN and infinities become `null` because JSON cannot represent them.
    public static func double(_ v: Double) -> JSONValue {
        v.isFinite ? .number(JSONNumber(v)) : .null
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByNilLiteral
{
    /// `"text"` → `.string`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// `42` → `.number`.
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    /// `1.5` → `.number` (via `double(_:)`).
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `true` → `.bool`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `[…]` → `.array`.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// `[k: v, …]` → `.object`, in literal order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    /// `nil` → `.null`.
    public init(nilLiteral: ()) { self = .null }
}

// MARK: - Accessors

extension JSONValue {
    /// The string, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The boolean, if this is a boolean.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The number, if this is a number.
    public var numberValue: JSONNumber? { if case .number(let n) = self { n } else { nil } }
    /// The exact value, if this is an integer literal that fits in `Int64`.
    public var int64Value: Int64? { numberValue?.int64 }
    /// The nearest `Double`, if this is a finite number.
    public var doubleValue: Double? { numberValue?.double }
    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// The members, if this is an object.
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    /// True when this is `null`.
    public var isNull: Bool { self == .null }

    /// The member named `key`; nil if absent or if this is not an object.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// The JSON Schema type name: "null", "boolean", "number", "string", "array" or "object".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
