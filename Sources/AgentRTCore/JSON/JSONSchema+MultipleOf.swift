// `multipleOf` in exact decimal arithmetic. Through Double, 0.0075 is not a multiple of
// 0.0001 (0.0075 / 0.0001 = 74.99999999999999) and 1e308 / 0.123456789 overflows; on the
// literals' digits both are exact.

/// A positive `multipleOf` value m = D × 10^scale, with D an integer of at most 18 digits.
struct _Divisor: Sendable {
    /// The literal, for messages.
    let text: String
    /// D: the significant digits, without trailing zeros.
    let digits: UInt64
    let scale: Int
    /// m itself when it is an integer that fits Int64 (the common case, checked without decimals).
    let integerValue: Int64?

    /// Significant digits a `multipleOf` may have (keeps the remainder arithmetic in UInt64).
    static let maximumDigits = 18

    /// Nil unless `number` is positive and has at most `maximumDigits` significant digits.
    init?(_ number: JSONNumber) {
        let d = _JSONDecimal(number.text)
        guard !d.isZero, !d.negative, d.digits.count <= Self.maximumDigits else { return nil }
        var value: UInt64 = 0
        for c in d.digits { value = value * 10 + UInt64(c &- UInt8(ascii: "0")) }
        text = number.text
        digits = value
        scale = d.exponent - d.digits.count
        var integer: Int64? = nil
        if scale >= 0 && scale <= 18 {
            var power: Int64 = 1
            for _ in 0..<scale { power *= 10 }
            let (product, overflow) = Int64(value).multipliedReportingOverflow(by: power)
            if !overflow { integer = product }
        }
        integerValue = integer
    }

    /// True when `n` / m is an integer.
    func divides(_ n: JSONNumber) -> Bool {
        if let m = integerValue, let v = n.int64 { return v % m == 0 }
        let d = _JSONDecimal(n.text)
        if d.isZero { return true }
        // n = N × 10^p with N not divisible by 10, so for p < scale, m × 10^(scale−p) would
        // have to divide N, which would make N a multiple of 10.
        let p = d.exponent - d.digits.count
        guard p >= scale else { return false }
        // N × 10^(p − scale) ≡ 0 (mod D)?
        var r: UInt64 = 0
        for c in d.digits { r = (r * 10 + UInt64(c &- UInt8(ascii: "0"))) % digits }
        return Self.mulmod(r, Self.powmod(10, p - scale, digits), digits) == 0
    }

    static func mulmod(_ a: UInt64, _ b: UInt64, _ m: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return m.dividingFullWidth(product).remainder
    }

    static func powmod(_ base: UInt64, _ exponent: Int, _ m: UInt64) -> UInt64 {
        var result: UInt64 = 1 % m
        var b = base % m
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result = mulmod(result, b, m) }
            b = mulmod(b, b, m)
            e >>= 1
        }
        return result
    }
}
