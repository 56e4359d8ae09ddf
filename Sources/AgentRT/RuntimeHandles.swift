import AgentRTCore
import AgentRTNative
import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

/// One embedded runtime and what the C API tracks for it.
final class EmbeddedRuntime: @unchecked Sendable {
    let runtime: Runtime
    let lock = Lock()
    // Guarded by `lock`.
    var subscriptions: [UInt64: CallbackSubscription] = [:]
    var nextSubscription: UInt64 = 1
    var closed = false

    init(runtime: Runtime) { self.runtime = runtime }
}

/// Runtime handles given to C: random 64-bit tokens (from the system's CSPRNG, different in
/// every process), checked on every use, never pointers — a plugin cannot find a live runtime
/// by scanning small integers. Freed tokens are remembered (the most recent 65,536) so using one
/// is `stale`; anything else is `invalid`.
enum RuntimeHandles {
    private struct Table {
        var live: [UInt64: EmbeddedRuntime] = [:]
        var freed: Set<UInt64> = []
        var freedOrder: [UInt64] = []
    }
    private static let table = Locked(Table())
    private static let freedMemory = 65_536

    static func register(_ rt: EmbeddedRuntime) -> OpaquePointer {
        var g = SystemRandomNumberGenerator()
        let token = table.withLock { t -> UInt64 in
            while true {
                let candidate = g.next() | 1   // never 0 (NULL)
                if t.live[candidate] == nil && !t.freed.contains(candidate) {
                    t.live[candidate] = rt
                    return candidate
                }
            }
        }
        return OpaquePointer(bitPattern: UInt(token))!
    }

    enum Lookup { case live(EmbeddedRuntime), stale, invalid }

    static func lookup(_ p: OpaquePointer?) -> Lookup {
        guard let p else { return .invalid }
        let token = UInt64(UInt(bitPattern: p))
        return table.withLock { t in
            if let rt = t.live[token] { return .live(rt) }
            return t.freed.contains(token) ? .stale : .invalid
        }
    }

    static func remove(_ p: OpaquePointer?) -> EmbeddedRuntime? {
        guard let p else { return nil }
        let token = UInt64(UInt(bitPattern: p))
        return table.withLock { t in
            guard let rt = t.live.removeValue(forKey: token) else { return nil }
            t.freed.insert(token)
            t.freedOrder.append(token)
            if t.freedOrder.count > freedMemory {
                t.freed.remove(t.freedOrder.removeFirst())
            }
            return rt
        }
    }
}

/// Resolves a runtime handle or returns the misuse status (with a message in `outError`).
func withRuntime(_ p: OpaquePointer?, outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil,
                 _ body: (EmbeddedRuntime) -> HostStatus) -> agentrt_status {
    if p == nil {
        store("the runtime is NULL", outError)
        return HostStatus.invalidArgument.rawValue
    }
    switch RuntimeHandles.lookup(p) {
    case .live(let rt): return body(rt).rawValue
    case .stale:
        store("the runtime was already freed with agentrt_runtime_free", outError)
        return HostStatus.staleHandle.rawValue
    case .invalid:
        store("not a runtime handle returned by agentrt_runtime_new", outError)
        return HostStatus.invalidHandle.rawValue
    }
}

/// A copy of `s` allocated with malloc, for `agentrt_free`.
func cString(_ s: String) -> UnsafeMutablePointer<CChar> { s.withCString { strdup($0)! } }   // no temporary array

/// Stores a library-owned copy of `s` into an optional out parameter.
func store(_ s: String?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
    guard let out else { return }
    out.pointee = s.map(cString)
}

/// A Swift string from a NUL-terminated C string, or nil for NULL / invalid UTF-8.
func swiftString(_ p: UnsafePointer<CChar>?) -> String? {
    guard let p else { return nil }
    return String(validatingCString: p)
}
