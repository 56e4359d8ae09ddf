import AgentRTCore
import CAgentRT
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worker process's side of process isolation: loads one plugin and serves the runtime's
/// calls over the data channel (fd 3), one call at a time, with cancellation on the control
/// channel (fd 4). While plugin code waits for a host service (`emit`, `call_tool`), the same
/// loop serves the runtime's nested requests (a tool of this plugin called by its own agent),
/// so a call tree never deadlocks on its own worker.
final class WorkerServer: @unchecked Sendable {
    static let dataFD: Int32 = 3
    static let controlFD: Int32 = 4

    let data = FrameChannel(fd: WorkerServer.dataFD)
    let control = FrameChannel(fd: WorkerServer.controlFD)
    /// Held by whoever reads the data channel; recursive, because a nested request handled
    /// while waiting for a reply may itself wait for a reply.
    private let channelLock = RecursiveLock()
    private var plugin: NativePlugin!
    private var maxResultBytes = 16 << 20
    private var cpuLimitNanos: UInt64 = 0
    /// CPU time of this process when the running call began (0: idle).
    private let callCPUStart = Atomic<UInt64>(0)
    private let calls = Locked<[UInt64: WorkerCall]>([:])
    /// Cancellations that arrived (on the control channel) before their call (on the data
    /// channel). Guarded by `calls`' lock.
    nonisolated(unsafe) private var earlyCancels: Set<UInt64> = []
    // Instances of open sessions, by the token the runtime holds; touched by the serving thread only.
    private var instances: [UInt64: UnsafeMutableRawPointer?] = [:]
    private var nextToken: UInt64 = 1

    /// Runs the worker: never returns.
    static func main() -> Never {
        if fcntl(dataFD, F_GETFD) < 0 || fcntl(controlFD, F_GETFD) < 0 {
            var m = "agentrt-worker runs an isolated plugin for the agentrt runtime, which starts it (docs/ISOLATION.md); it is not run by hand.\n"
            m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            exit(2)
        }
        signal(SIGPIPE, SIG_IGN)
        let server = WorkerServer()
        // Plugin code runs on a serving thread; if it ends that thread (pthread_exit, thread
        // cancellation) the main thread sees the join return and ends the process with a status
        // the runtime names, instead of leaving a worker that no longer answers.
        let serving = NativeThread(name: "agentrt-wsrv", stackSize: 8 << 20) { server.serve() }
        serving.join()
        _exit(WorkerExit.servingThreadEnded)
    }

    func send(_ w: inout WireWriter) { data.send(&w) }

    /// Sends a request and serves the runtime until its reply arrives; nil when the runtime is gone.
    func request(_ w: inout WireWriter, reply: WireKind, id: UInt64) -> WireReader? {
        channelLock.lock()
        defer { channelLock.unlock() }
        guard data.send(&w) else { return nil }
        while true {
            guard let f = data.receive() else { runtimeGone() }
            if f.kind == reply && f.id == id { return f }
            handle(f)
        }
    }

    private func serve() -> Never {
        guard let first = data.receive(), first.kind == .load else { runtimeGone() }
        load(first)
        NativeThread(name: "agentrt-wctl") { [self] in controlLoop() }.detach()
        while true {
            channelLock.lock()
            let f = data.receive()
            channelLock.unlock()
            guard let f else { runtimeGone() }
            handle(f)
        }
    }

    /// The runtime closed the channel (shutdown) or died: the plugin shuts down, the process exits.
    private func runtimeGone() -> Never {
        if let plugin { plugin.shutdown?(plugin.state) }
        exit(0)
    }

    // MARK: load

    private func load(_ frame: WireReader) {
        var r = frame
        let path: String, config: String, memoryMB: Int64, cpuMs: Int64, files: Int64, dir: String?
        do {
            path = try r.str(); config = try r.str()
            maxResultBytes = Int(try r.i64())
            memoryMB = try r.i64(); cpuMs = try r.i64(); files = try r.i64()
            dir = try r.optionalStr()
        } catch { runtimeGone() }
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        if memoryMB > 0 {
            var l = rlimit(rlim_cur: rlim_t(memoryMB) << 20, rlim_max: rlim_t(memoryMB) << 20)
            setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &l)
        }
        if files > 0 {
            var l = rlimit(rlim_cur: rlim_t(files), rlim_max: rlim_t(files))
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l)
        }
        // Clamped: a limit of centuries is no limit, not an overflow.
        cpuLimitNanos = cpuMs > 0 ? UInt64(min(cpuMs, Int64(UInt64.max / 2_000_000))) * 1_000_000 : 0
        if let dir, chdir(dir) != 0 {
            fail(.fileNotFound, "the worker cannot enter its working directory \(dir): \(String(cString: strerror(errno)))")
        }
        do {
            plugin = try PluginLoader.shared.load(path: path, config: config)
        } catch {
            fail(error.code, error.message)
        }
        var w = WireWriter(.loaded, id: 0)
        PluginManifest(plugin).encode(into: &w)
        send(&w)
    }

    private func fail(_ code: PluginLoadError.Code, _ message: String) -> Never {
        var w = WireWriter(.loadFailed, id: 0)
        w.str(code.rawValue)
        w.str(message)
        send(&w)
        exit(0)
    }

    // MARK: requests

    private func handle(_ frame: WireReader) {
        var r = frame
        do {
            switch frame.kind {
            case .run: try run(&r)
            case .invokeTool: try invokeTool(&r)
            case .openSession: try openSession(&r)
            case .closeSession: try closeSession(&r)
            default: break   // a reply nobody waits for (its waiter gave up): ignored
            }
        } catch {
            exit(70)   // a malformed request: the runtime and worker disagree; start over
        }
    }

    private func makeCall(_ r: inout WireReader, id: UInt64) throws(WireError) -> WorkerCall {
        let user = try r.str(), session = try r.str(), run = try r.str()
        let meta = try r.strings()
        let remaining = try r.i64()
        let call = WorkerCall(id: id, userID: user, sessionID: session, runID: run, metadata: meta,
                              remainingNanos: remaining, maxResultBytes: maxResultBytes, server: self)
        calls.withLock {
            $0[id] = call
            if earlyCancels.remove(id) != nil { call.cancelled.store(true, ordering: .releasing) }
        }
        return call
    }

    private func finish(_ call: WorkerCall) {
        call.finished.store(true, ordering: .releasing)
        _ = calls.withLock { $0.removeValue(forKey: call.id) }
    }

    private func run(_ r: inout WireReader) throws(WireError) {
        let id = r.id
        let index = Int(try r.u32()), token = try r.u64()
        let call = try makeCall(&r, id: id)
        let input = try r.bytes()
        guard index < plugin.agents.count else { throw WireError(description: "agent \(index)") }
        let agent = plugin.agents[index]
        let instance: UnsafeMutableRawPointer? = token == 0 ? plugin.state : (instances[token] ?? nil)
        let handle = HandleTable.shared.register(call)
        if cpuLimitNanos > 0 { callCPUStart.store(max(1, Self.cpuNanos()), ordering: .releasing) }
        let status = input.withUnsafeBufferPointer { agent.run(instance, HostTable.handle(handle), view($0)) }
        callCPUStart.store(0, ordering: .releasing)
        HandleTable.shared.retire(handle)
        finish(call)
        let (result, refusal, message) = call.outcome
        var w = WireWriter(.done, id: id)
        w.i32(status)
        w.optionalStr(result)
        w.optionalStr(refusal)
        w.optionalStr(message)
        send(&w)
    }

    private func invokeTool(_ r: inout WireReader) throws(WireError) {
        let id = r.id
        let index = Int(try r.u32())
        let call = try makeCall(&r, id: id)
        let args = try r.str()
        guard index < plugin.tools.count else { throw WireError(description: "tool \(index)") }
        let tool = plugin.tools[index]
        let output: ToolOutput
        if let typed = tool.typed {
            if cpuLimitNanos > 0 { callCPUStart.store(max(1, Self.cpuNanos()), ordering: .releasing) }
            output = Self.callTyped(typed, args)
            callCPUStart.store(0, ordering: .releasing)
        } else if let fn = tool.jsonFunction {
            let handle = HandleTable.shared.register(call)
            if cpuLimitNanos > 0 { callCPUStart.store(max(1, Self.cpuNanos()), ordering: .releasing) }
            var a = args
            let status = a.withUTF8 { fn(plugin.state, HostTable.handle(handle), view($0)) }
            callCPUStart.store(0, ordering: .releasing)
            HandleTable.shared.retire(handle)
            let (result, refusal, message) = call.outcome
            if status == 0 {
                if let result { output = .result(result) }
                else if let refusal { output = .failure(AgentRTError(.invalidOutput, "tool \(plugin.name).\(tool.descriptor.name): \(refusal)")) }
                else { output = .result("null") }
            } else {
                output = .toolError(message ?? "the tool returned \(HostStatus(rawValue: status)?.name ?? String(status))")
            }
        } else {
            output = .failure(AgentRTError(.notFound, "tool \(tool.descriptor.qualifiedName) has no function"))
        }
        finish(call)
        var w = WireWriter(.toolDone, id: id)
        switch output {
        case .result(let text): w.u8(0); w.str(""); w.str(text)
        case .toolError(let text): w.u8(1); w.str(""); w.str(text)
        case .failure(let e): w.u8(2); w.str(e.code.rawValue); w.str(e.message)
        }
        send(&w)
    }

    static func callTyped(_ typed: TypedTool, _ args: String) -> ToolOutput {
        let value: JSONValue
        do { value = try JSONValue.parse(args) } catch {
            return .failure(AgentRTError(.badArguments, "\(typed.prototype.name): the arguments are not valid JSON: \(error)"))
        }
        return NativeTypedTool(tool: typed).invoke(arguments: value)
    }

    private func openSession(_ r: inout WireReader) throws(WireError) {
        let id = r.id
        let index = Int(try r.u32())
        var user = try r.str(), session = try r.str()
        guard index < plugin.agents.count else { throw WireError(description: "agent \(index)") }
        var out: UnsafeMutableRawPointer? = nil
        var status: Int32 = 0
        if let open = plugin.agents[index].sessionOpen {
            status = user.withUTF8 { u in session.withUTF8 { s in open(plugin.state, view(u), view(s), &out) } }
        }
        var token: UInt64 = 0
        if status == 0 {
            token = nextToken
            nextToken += 1
            instances[token] = out
        }
        var w = WireWriter(.opened, id: id)
        w.i32(status)
        w.u64(token)
        send(&w)
    }

    private func closeSession(_ r: inout WireReader) throws(WireError) {
        let id = r.id
        let index = Int(try r.u32()), token = try r.u64()
        if index < plugin.agents.count, let instance = instances.removeValue(forKey: token) {
            plugin.agents[index].sessionClose?(plugin.state, instance)
        }
        var w = WireWriter(.closed, id: id)
        send(&w)
    }

    // MARK: control: cancellation and the CPU-time limit

    private func controlLoop() {
        var p = pollfd(fd: control.fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&p, 1, cpuLimitNanos > 0 ? 5 : -1)
            if ready > 0 {
                guard let f = control.receive() else { runtimeGone() }
                if f.kind == .cancel {
                    calls.withLock {
                        if let c = $0[f.id] { c.cancelled.store(true, ordering: .releasing); return }
                        if earlyCancels.count > 1024 { earlyCancels.removeAll() }
                        earlyCancels.insert(f.id)
                    }
                }
            }
            let start = callCPUStart.load(ordering: .acquiring)
            if cpuLimitNanos > 0, start != 0, Self.cpuNanos() &- start > cpuLimitNanos {
                kill(getpid(), SIGXCPU)   // the runtime names the CPU-time limit when it sees SIGXCPU
            }
        }
    }

    static func cpuNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A recursive pthread mutex.
final class RecursiveLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
}

/// Entry point of the `agentrt-worker` executable.
public enum AgentRTWorker {
    public static func main() -> Never { WorkerServer.main() }
}
