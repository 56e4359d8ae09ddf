import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// Process introspection and fixtures for the event-delivery suites.
enum EventTestKit {
    /// Publishes `count` custom events for `user`, numbered from `from` in their data.
    static func publish(_ bus: EventBus, user: String, count: Int, from: Int = 1, dataPadding: Int = 0) {
        let pad = dataPadding > 0 ? ",\"pad\":\"" + String(repeating: "x", count: dataPadding) + "\"" : ""
        for i in from..<(from + count) {
            bus.publish(Event(kind: .custom, userID: user, sessionID: "s", runID: "r", plugin: "p", agent: "a",
                              dataJSON: "{\"name\":\"n\",\"value\":\(i)\(pad)}"))
        }
    }

    /// The names (comm) of the process's threads, one per entry of /proc/self/task.
    static func threadNames() -> [String] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let first = tid.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { continue }
            names.append(readSmallFile("/proc/self/task/\(tid)/comm") ?? "?")
        }
        return names
    }

    /// Threads of the shared delivery pool (workers "agentrt-events", watcher "agentrt-evwatch").
    static func deliveryThreadCount() -> Int { threadNames().filter { $0.hasPrefix("agentrt-ev") }.count }

    /// The calling thread's name.
    static func currentThreadName() -> String { readSmallFile("/proc/thread-self/comm") ?? "?" }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        var s = String(decoding: buf[0..<n], as: UTF8.self)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    /// Bytes the allocator has handed out and not yet got back: glibc `mallinfo2().uordblks`
    /// (summed over every arena). Swift's Glibc module leaves out <malloc.h>, so the function is
    /// looked up with dlsym. `struct mallinfo2` (ten size_t) is returned through a hidden
    /// pointer, which the x86-64 System V ABI passes exactly like a first pointer argument; so
    /// on x86-64 it is called as `void *(*)(void *)`. Nil elsewhere.
    static func heapInUse() -> Int? {
        #if arch(x86_64)
        typealias MallInfo2 = @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?
        guard let sym = dlsym(nil, "mallinfo2") else { return nil }
        let fn = unsafeBitCast(sym, to: MallInfo2.self)
        var fields = [Int](repeating: 0, count: 10)  // arena, ordblks, …, uordblks (7), fordblks, keepcost
        _ = fields.withUnsafeMutableBytes { fn($0.baseAddress!) }
        return fields[7]
        #else
        return nil
        #endif
    }
}

/// The seqs one callback subscription received, in order (one lock per subscription).
final class SeqLog: @unchecked Sendable {
    private let lock = Lock()
    private var seqs: [UInt64] = []
    private var users: Set<String> = []
    func record(_ e: Event) { lock.withLock { seqs.append(e.seq); users.insert(e.userID) } }
    var all: [UInt64] { lock.withLock { seqs } }
    var count: Int { lock.withLock { seqs.count } }
    var usersSeen: Set<String> { lock.withLock { users } }
}

/// Sets a flag when released, to prove a closure (and what it captured) was freed.
final class ReleaseTracker: Sendable {
    private let flag: Shared<Bool>
    init(_ flag: Shared<Bool>) { self.flag = flag }
    deinit { flag.store(true) }
    func touch() {}
}
