/// An id (user, session, run) as a dictionary key compared by its exact UTF-8 bytes.
///
/// Swift's `String ==` and `String` hashing use canonical equivalence: "\u{212B}ngstrom"
/// (ANGSTROM SIGN) equals "\u{00C5}ngstrom", so keying per-user tables by `String` would merge
/// two users. Every per-user table is keyed by `ExactID` instead.
public struct ExactID: Hashable, Sendable, CustomStringConvertible {
    public let string: String

    @inline(__always) public init(_ s: String) { string = s }

    public static func == (a: ExactID, b: ExactID) -> Bool {
        // The same representation (one shared storage, or equal small-string bits) is the same
        // bytes: the common case, an id compared with a copy of itself, needs no byte loop.
        if unsafeBitCast(a.string, to: (UInt64, UInt64).self) == unsafeBitCast(b.string, to: (UInt64, UInt64).self) { return true }
        var x = a.string, y = b.string
        return x.withUTF8 { xb in y.withUTF8 { yb in xb.count == yb.count && (xb.count == 0 || memcmpEqual(xb, yb)) } }
    }

    public func hash(into h: inout Hasher) {
        var s = string
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { string }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    for i in 0..<a.count where a[i] != b[i] { return false }
    return true
}

extension String {
    /// Byte-exact equality (ids, keys): never canonical equivalence.
    @inline(__always) func sameBytes(_ other: String) -> Bool { ExactID(self) == ExactID(other) }
}
