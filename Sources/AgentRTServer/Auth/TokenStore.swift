import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// Who a bearer token acts as.
public struct Principal: Sendable, Equatable {
    public enum Role: String, Sendable { case user, admin }
    public let userID: String
    public let role: Role
    public var isAdmin: Bool { role == .admin }
}

/// The token file: one `user role sha256hex` line per token (blank lines and `#` comments
/// ignored). The file never holds a token, only its digest, so reading it gives no access.
/// `principal(for:)` re-reads the file whenever its mtime, size or inode changed, so adding a
/// user needs no restart.
public final class TokenStore: @unchecked Sendable {
    public let path: String
    private let lock = Lock()
    // Guarded by `lock`.
    private var byDigest: [String: Principal] = [:]
    private var stamp: FileStamp?
    private var lastProblem: String?

    /// Reads `path` now; a missing or unreadable file is an error (the server must not start
    /// without knowing its users).
    public init(path: String) throws(TokenFileError) {
        self.path = path
        guard let s = FileStamp(path: path) else { throw TokenFileError("cannot read the token file \(path)") }
        let (table, problem) = try Self.load(path)
        byDigest = table
        stamp = s
        lastProblem = problem
    }

    /// The first malformed line seen at the last read, if any (such lines are skipped).
    public var problem: String? { lock.withLock { lastProblem } }

    /// The principal of a presented token, nil when the token is unknown.
    public func principal(for token: String) -> Principal? {
        guard !token.isEmpty, token.utf8.count <= 512 else { return nil }
        reloadIfChanged()
        let digest = SHA256.hex(token)
        return lock.withLock { byDigest[digest] }
    }

    /// Re-reads the file when it changed on disk. A file that vanished keeps the last table.
    func reloadIfChanged() {
        guard let now = FileStamp(path: path) else { return }
        let changed = lock.withLock { stamp != now }
        guard changed, let (table, problem) = try? Self.load(path) else { return }
        lock.withLock {
            byDigest = table
            stamp = now
            lastProblem = problem
        }
    }

    static func load(_ path: String) throws(TokenFileError) -> ([String: Principal], String?) {
        guard let text = readFile(path) else { throw TokenFileError("cannot read the token file \(path)") }
        var table: [String: Principal] = [:]
        var problem: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 3, let role = Principal.Role(rawValue: String(fields[1])),
                  fields[2].utf8.count == 64, fields[2].utf8.allSatisfy(Self.isLowerHex),
                  ContextValidation.problem(with: String(fields[0]), field: "user_id") == nil else {
                if problem == nil { problem = "\(path):\(n + 1): expected `user role sha256hex`" }
                continue
            }
            table[String(fields[2])] = Principal(userID: String(fields[0]), role: role)
        }
        return (table, problem)
    }

    private static func isLowerHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            bytes += buf[0..<n]
            if bytes.count > 16 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A token file that cannot be used.
public struct TokenFileError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// What identifies one version of a file on disk (mtime to the nanosecond, size, inode).
struct FileStamp: Equatable {
    let seconds: Int
    let nanos: Int
    let size: Int64
    let inode: UInt64

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        seconds = st.st_mtim.tv_sec
        nanos = st.st_mtim.tv_nsec
        size = Int64(st.st_size)
        inode = UInt64(st.st_ino)
    }
}
