import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// The messages between the runtime and a worker process (process isolation). Each frame is a
/// little-endian `u32` length, then the body: a kind byte, a `u64` call id and the kind's fields.
/// Strings are a `u32` length and the bytes. Both sides are this package's code, built together,
/// so there is no version negotiation beyond the handshake's check.
enum WireKind: UInt8 {
    // runtime → worker
    case load = 1, run, openSession, closeSession, invokeTool, emitReply, toolReply, cancel
    // worker → runtime
    case loaded = 32, loadFailed, done, opened, closed, toolDone, emit, callTool, heartbeat, log
}

/// Builds one frame.
struct WireWriter {
    private(set) var bytes: [UInt8]

    init(_ kind: WireKind, id: UInt64) {
        bytes = [0, 0, 0, 0]
        bytes.reserveCapacity(64)
        bytes.append(kind.rawValue)
        u64(id)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func raw(_ b: UnsafeRawBufferPointer) {
        u32(UInt32(b.count))
        if b.count > 0 { bytes.append(contentsOf: b) }
    }
    mutating func str(_ s: String) {
        var s = s
        s.withUTF8 { raw(UnsafeRawBufferPointer($0)) }
    }
    mutating func optionalStr(_ s: String?) {
        bool(s != nil)
        if let s { str(s) }
    }
    mutating func strings(_ d: [String: String]) {
        u32(UInt32(d.count))
        for (k, v) in d.sorted(by: { $0.key < $1.key }) { str(k); str(v) }
    }

    /// The finished frame (length filled in).
    mutating func finish() -> [UInt8] {
        let n = UInt32(bytes.count - 4).littleEndian
        withUnsafeBytes(of: n) { for i in 0..<4 { bytes[i] = $0[i] } }
        return bytes
    }
}

/// A malformed frame (a bug or a hostile worker): the channel is closed and the worker killed.
struct WireError: Error, CustomStringConvertible {
    let description: String
}

/// Reads one frame's fields.
struct WireReader {
    let kind: WireKind
    let id: UInt64
    private let body: [UInt8]
    private var at: Int

    init(body: [UInt8]) throws(WireError) {
        guard body.count >= 9, let k = WireKind(rawValue: body[0]) else {
            throw WireError(description: "a frame of \(body.count) bytes with no valid kind")
        }
        self.body = body
        self.kind = k
        self.at = 1
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(body[1 + i]) << (8 * UInt64(i)) }
        self.id = v
        at = 9
    }

    private mutating func take(_ n: Int) throws(WireError) -> Range<Int> {
        guard n >= 0, at + n <= body.count else { throw WireError(description: "a \(kind) frame ends early") }
        defer { at += n }
        return at..<(at + n)
    }

    mutating func u8() throws(WireError) -> UInt8 { body[try take(1).lowerBound] }
    mutating func u32() throws(WireError) -> UInt32 {
        let r = try take(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(body[r.lowerBound + i]) << (8 * UInt32(i)) }
        return v
    }
    mutating func u64() throws(WireError) -> UInt64 {
        let r = try take(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(body[r.lowerBound + i]) << (8 * UInt64(i)) }
        return v
    }
    mutating func i64() throws(WireError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func i32() throws(WireError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func bool() throws(WireError) -> Bool { try u8() != 0 }
    mutating func bytes() throws(WireError) -> ArraySlice<UInt8> {
        let n = Int(try u32())
        return body[try take(n)]
    }
    mutating func str() throws(WireError) -> String {
        let b = try bytes()
        return String(decoding: b, as: UTF8.self)
    }
    mutating func optionalStr() throws(WireError) -> String? { try bool() ? try str() : nil }
    mutating func strings() throws(WireError) -> [String: String] {
        let n = Int(try u32())
        guard n <= 100_000 else { throw WireError(description: "a map of \(n) entries") }
        var d: [String: String] = [:]
        for _ in 0..<n { let k = try str(); d[k] = try str() }
        return d
    }
}

/// One end of a stream socket carrying frames. `send` may be called from several threads (it
/// takes a lock); `receive` from one thread at a time (callers arrange it).
final class FrameChannel: @unchecked Sendable {
    let fd: Int32
    private let sendLock = Lock()
    private var buffer: [UInt8] = []
    private var start = 0
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    /// The largest frame accepted (a hostile peer cannot make the other side allocate more).
    static let maxFrameBytes = 64 << 20

    init(fd: Int32) { self.fd = fd }

    /// Writes a frame; false when the peer is gone.
    @discardableResult
    func send(_ w: inout WireWriter) -> Bool {
        let frame = w.finish()
        return sendLock.withLock {
            frame.withUnsafeBytes { p -> Bool in
                var off = 0
                while off < p.count {
                    let n = Glibc.send(fd, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL))
                    if n < 0 { if errno == EINTR { continue }; return false }
                    off += n
                }
                return true
            }
        }
    }

    /// The next frame, or nil at end of stream (the peer closed or died) or on a malformed frame.
    func receive() -> WireReader? {
        while true {
            let avail = buffer.count - start
            if avail >= 4 {
                var n = 0
                for i in 0..<4 { n |= Int(buffer[start + i]) << (8 * i) }
                guard n <= Self.maxFrameBytes else { return nil }
                if avail >= 4 + n {
                    let body = Array(buffer[(start + 4)..<(start + 4 + n)])
                    start += 4 + n
                    if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
                    return try? WireReader(body: body)
                }
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 { if errno == EINTR { continue }; return nil }
            if got == 0 { return nil }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    /// Ends both directions (wakes a thread blocked in `receive` on either side).
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}
