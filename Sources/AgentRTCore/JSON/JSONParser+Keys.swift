// Duplicate-key detection for the parser. Keys are compared as decoded UTF-8 bytes, held as
// views into the input (or into a buffer when the key has escapes), so `isValid` still
// builds no Strings and "\u0061" is the same key as "a" while "\u00C5" and "A\u030A" differ.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The decoded bytes of one key: equal when byte-for-byte equal.
struct _JSONKeyBytes: Hashable {
    let bytes: UnsafeRawBufferPointer

    static func == (lhs: _JSONKeyBytes, rhs: _JSONKeyBytes) -> Bool {
        guard lhs.bytes.count == rhs.bytes.count else { return false }
        guard let a = lhs.bytes.baseAddress, let b = rhs.bytes.baseAddress, lhs.bytes.count > 0 else { return true }
        return memcmp(a, b, lhs.bytes.count) == 0
    }

    func hash(into hasher: inout Hasher) { hasher.combine(bytes: bytes) }
}

/// One key of an object being parsed: its bytes, and its length and first byte packed into
/// one word, so most comparisons of two different keys are a single integer compare.
struct _JSONKeyEntry {
    var summary: UInt64
    var key: _JSONKeyBytes

    @inline(__always)
    init(_ key: _JSONKeyBytes) {
        self.key = key
        let count = key.bytes.count
        summary = UInt64(truncatingIfNeeded: count) << 8 | (count > 0 ? UInt64(key.bytes[0]) : 0)
    }
}

// The keys of the objects being parsed live in one stack of entries (innermost object on top),
// in a stack-allocated buffer that moves to the heap only for documents with many keys: no
// allocation and no reference counting for the JSON texts the runtime usually sees. An object
// with more than `linearKeyLimit` keys switches to a set, so a huge one is not checked in
// quadratic time.
extension _JSONParser {
    /// Entries of the stack-allocated key buffer.
    static var inlineKeyCapacity: Int { 32 }
    /// Objects up to this many keys are checked by a scan, larger ones by a set.
    static var linearKeyLimit: Int { 64 }

    /// Runs `body` with the key stack set up and tears it down (and decoded keys) afterwards.
    mutating func withKeyStack(_ body: (inout Self) throws(JSONError) -> JSONValue) throws(JSONError) -> JSONValue {
        let result = withUnsafeTemporaryAllocation(of: _JSONKeyEntry.self, capacity: Self.inlineKeyCapacity) { scratch in
            keyEntries = scratch.baseAddress!
            keyCapacity = scratch.count
            defer {
                if keysOnHeap { keyEntries.deallocate() }
                for buffer in decodedKeys { buffer.deallocate() }
            }
            return Result { () throws(JSONError) in try body(&self) }
        }
        return try result.get()
    }

    /// Parses the key at `pos` of the object whose keys start at entry `keyBase`, refusing one
    /// the object already has; returns the key ("" when only validating).
    @inline(__always)
    mutating func parseKey(keyBase: Int, set: inout Set<_JSONKeyBytes>?) throws(JSONError) -> String {
        let offset = pos
        let (start, end, hasEscapes) = try scanString()
        let key = hasEscapes ? decodedKey(start, end) : _JSONKeyBytes(bytes: UnsafeRawBufferPointer(rebasing: b[start..<end]))
        guard insert(key, keyBase: keyBase, set: &set) else {
            throw Self.duplicateKey(String(decoding: key.bytes, as: UTF8.self), at: offset)
        }
        return Mode.buildsValues ? String(decoding: key.bytes, as: UTF8.self) : ""
    }

    /// Adds `key` to the object's keys; false if it is already there.
    @inline(__always)
    mutating func insert(_ key: _JSONKeyBytes, keyBase: Int, set: inout Set<_JSONKeyBytes>?) -> Bool {
        if set != nil { return set!.insert(key).inserted }
        let entry = _JSONKeyEntry(key)
        // Keys of at most 1 byte are wholly in the summary.
        let short = key.bytes.count <= 1
        for i in keyBase..<keyCount where keyEntries[i].summary == entry.summary && (short || keyEntries[i].key == key) {
            return false
        }
        if keyCount - keyBase >= Self.linearKeyLimit {
            set = keySet(keyBase, adding: key)
            return true
        }
        if keyCount == keyCapacity { growKeyStack() }
        keyEntries[keyCount] = entry
        keyCount += 1
        return true
    }

    /// The object's keys as a set, once it has too many for a scan (kept off the hot path).
    @inline(never)
    func keySet(_ keyBase: Int, adding key: _JSONKeyBytes) -> Set<_JSONKeyBytes> {
        var all = Set<_JSONKeyBytes>(minimumCapacity: 2 * Self.linearKeyLimit)
        for i in keyBase..<keyCount { all.insert(keyEntries[i].key) }
        all.insert(key)
        return all
    }

    /// Doubles the key stack, moving it to the heap (kept off the hot path).
    @inline(never)
    mutating func growKeyStack() {
        let grown = UnsafeMutablePointer<_JSONKeyEntry>.allocate(capacity: 2 * keyCapacity)
        grown.initialize(from: keyEntries, count: keyCount)
        if keysOnHeap { keyEntries.deallocate() }
        keyEntries = grown
        keyCapacity *= 2
        keysOnHeap = true
    }

    /// Decodes an escaped key body into a buffer that lives until the document is parsed.
    mutating func decodedKey(_ start: Int, _ end: Int) -> _JSONKeyBytes {
        let raw = UnsafeRawBufferPointer(rebasing: b[start..<end])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, raw.count), alignment: 1)
        decodedKeys.append(buffer)
        let length = Self.decodeEscaped(raw, into: buffer.bindMemory(to: UInt8.self))
        return _JSONKeyBytes(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
    }

    /// A repeated member name. C tools receive the raw text and may read either value while
    /// the runtime validated the other, so duplicates are refused rather than last-wins.
    static func duplicateKey(_ key: String, at offset: Int) -> JSONError {
        var quoted = ""
        let shown = key.unicodeScalars.count <= 64 ? key : String(String.UnicodeScalarView(key.unicodeScalars.prefix(61))) + "..."
        JSONValue.appendQuoted(shown, to: &quoted)
        return JSONError(offset: offset, message: "duplicate key \(quoted) in object (keys must be unique)")
    }
}
