import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// Makes tokens and appends their digests to a token file (`agentrt token add`).
public enum TokenIssuer {
    /// A fresh random token: 32 bytes from the system's CSPRNG, hex, with a recognisable prefix.
    public static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            let v = g.next()
            for s in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
        return "art_" + Hex.encode(bytes)
    }

    /// Creates a token for `userID`, appends `user role sha256hex` to `path` (created with mode
    /// 0600; an existing file is made 0600 too) and returns the token, which is stored nowhere.
    public static func add(path: String, userID: String, role: Principal.Role) throws(TokenFileError) -> String {
        if let why = ContextValidation.problem(with: userID, field: "user") {
            throw TokenFileError(why)
        }
        if userID.unicodeScalars.contains(where: { $0 == " " || $0 == "\t" || $0 == "#" || $0 == "\n" || $0 == "\r" }) {
            throw TokenFileError("a user id in the token file cannot hold spaces, tabs or #")
        }
        let token = newToken()
        let line = "\(userID) \(role.rawValue) \(SHA256.hex(token))\n"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TokenFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw TokenFileError("cannot make \(path) private (0600)") }
        var rest = Array(line.utf8)[...]
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw TokenFileError("cannot write \(path): \(String(cString: strerror(errno)))") }
            rest = rest.dropFirst(n)
        }
        return token
    }
}
