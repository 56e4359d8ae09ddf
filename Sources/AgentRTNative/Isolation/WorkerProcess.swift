import AgentRTCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Limits and placement of an isolated plugin's worker processes.
public struct WorkerLimits: Sendable, Equatable {
    /// Address-space limit per worker (RLIMIT_AS), MiB; 0: none.
    public var memoryLimitMB: Int = 0
    /// CPU time one call (or typed tool call) may use in its worker, ms; 0: none. Past it the
    /// worker is killed with SIGXCPU and the call ends `crashed` naming the limit.
    public var cpuLimitMs: Int = 0
    /// Open files per worker (RLIMIT_NOFILE).
    public var maxOpenFiles: Int = 256
    /// The workers' working directory (default: the host's).
    public var workingDirectory: String?
    public init() {}
}

/// One worker process: its pid and its two channels (data, control). Spawned with a clean
/// environment, its own process group (a terminal's Ctrl-C reaches the host, which shuts the
/// workers down), stdin from /dev/null and the host's stdout and stderr.
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    let data: FrameChannel
    let control: FrameChannel
    let slot: Int
    let generation: UInt64
    let limits: WorkerLimits
    private let reaped = Locked<String?>(nil)
    /// Set when the runtime killed it on purpose (shutdown, deadline + grace).
    let killedByRuntime = Atomic<Bool>(false)

    /// The environment every worker starts with (documented in docs/ISOLATION.md).
    static let environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "AGENTRT_WORKER=1",
                              // A crashing plugin is reported by the runtime; the Swift runtime's own crash
                              // report would only slow the restart.
                              "SWIFT_BACKTRACE=enable=no"]

    /// `environment`, plus the host's sanitizer settings (a sanitizer build's worker must run
    /// under the same options as its host; they carry no secrets).
    static func workerEnvironment() -> [String] {
        var env = environment
        // A sanitizer build's worker must die by the signal itself (the supervisor names it),
        // not have its sanitizer catch the signal and exit with a status of its own.
        let ownSignals = "handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0"
        for name in ["ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"] {
            let host = getenv(name).map { String(cString: $0) } ?? ""
            if name == "LSAN_OPTIONS" { if !host.isEmpty { env.append("\(name)=\(host)") }; continue }
            env.append("\(name)=\(host.isEmpty ? ownSignals : host + ":" + ownSignals)")
        }
        return env
    }

    private init(pid: pid_t, data: FrameChannel, control: FrameChannel, slot: Int, generation: UInt64, limits: WorkerLimits) {
        self.pid = pid
        self.data = data
        self.control = control
        self.slot = slot
        self.generation = generation
        self.limits = limits
    }

    /// Starts a worker and has it load the plugin; returns the worker and what it loaded.
    static func spawn(executable: String, pluginPath: String, config: String, limits: WorkerLimits,
                      maxResultBytes: Int, slot: Int, generation: UInt64) throws(PluginLoadError) -> (WorkerProcess, PluginManifest) {
        var d: [Int32] = [0, 0], c: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &d) == 0 else {
            throw PluginLoadError(.workerFailed, path: pluginPath, "socketpair failed: \(String(cString: strerror(errno)))")
        }
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &c) == 0 else {
            close(d[0]); close(d[1])
            throw PluginLoadError(.workerFailed, path: pluginPath, "socketpair failed: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, d[1], WorkerServer.dataFD)
        posix_spawn_file_actions_adddup2(&actions, c[1], WorkerServer.controlFD)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv: [UnsafeMutablePointer<CChar>?] = ["agentrt-worker", pluginPath].map { (s: String) in strdup(s) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = workerEnvironment().map { (s: String) in strdup(s) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        close(d[1]); close(c[1])
        guard rc == 0 else {
            close(d[0]); close(c[0])
            throw PluginLoadError(.workerFailed, path: pluginPath,
                "cannot start the worker executable \(executable): \(String(cString: strerror(rc)))")
        }
        let w = WorkerProcess(pid: pid, data: FrameChannel(fd: d[0]), control: FrameChannel(fd: c[0]),
                              slot: slot, generation: generation, limits: limits)
        var load = WireWriter(.load, id: 0)
        load.str(pluginPath); load.str(config)
        load.i64(Int64(maxResultBytes))
        load.i64(Int64(limits.memoryLimitMB)); load.i64(Int64(limits.cpuLimitMs)); load.i64(Int64(limits.maxOpenFiles))
        load.optionalStr(limits.workingDirectory)
        w.data.send(&load)
        guard var reply = w.data.receive() else {
            let how = w.reap()
            throw PluginLoadError(.workerFailed, path: pluginPath, "the worker process \(how) while it loaded the plugin")
        }
        switch reply.kind {
        case .loaded:
            do { return (w, try PluginManifest(from: &reply)) } catch {
                w.kill()
                _ = w.reap()
                throw PluginLoadError(.workerFailed, path: pluginPath, "the worker described the plugin badly: \(error)")
            }
        case .loadFailed:
            let code = (try? reply.str()).flatMap(PluginLoadError.Code.init(rawValue:)) ?? .workerFailed
            let message = (try? reply.str()) ?? "no message"
            _ = w.reap()
            throw PluginLoadError(code, path: pluginPath, message)
        default:
            w.kill()
            _ = w.reap()
            throw PluginLoadError(.workerFailed, path: pluginPath, "the worker answered the load with \(reply.kind)")
        }
    }

    /// SIGKILL (idempotent; the pid stays ours until reaped).
    func kill() {
        killedByRuntime.store(true, ordering: .releasing)
        if reaped.withLock({ $0 }) == nil { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// Asks a running call to stop (its `is_cancelled` turns true).
    func sendCancel(_ id: UInt64) {
        var w = WireWriter(.cancel, id: id)
        control.send(&w)
    }

    /// Waits for the process to end (killing it if it lingers after closing its channel) and
    /// says how it ended: "exited with status 0", "killed by SIGSEGV", ... Idempotent.
    @discardableResult
    func reap() -> String {
        reaped.withLock { done -> String in
            if let done { return done }
            var status: Int32 = 0
            var waited: pid_t = 0
            for _ in 0..<200 {
                waited = waitpid(pid, &status, WNOHANG)
                if waited != 0 { break }
                usleep(1000)
            }
            if waited == 0 {
                _ = Glibc.kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            let how = Self.describe(status: status, limits: limits)
            done = how
            return how
        }
    }

    static func describe(status: Int32, limits: WorkerLimits) -> String {
        let exited = (status & 0x7F) == 0
        if exited {
            let code = (status >> 8) & 0xFF
            if code == WorkerExit.servingThreadEnded {
                return "ended: the plugin ended the worker's serving thread (pthread_exit or thread cancellation)"
            }
            return "exited with status \(code)" + memoryNote(limits, signal: nil)
        }
        let sig = status & 0x7F
        var how = "killed by \(signalName(sig))"
        switch sig {
        case SIGXCPU where limits.cpuLimitMs > 0:
            how += " (the call used more than its CPU-time limit of \(limits.cpuLimitMs) ms)"
        case SIGABRT:
            how += " (abort: a failed assertion or an uncaught C++ exception)" + memoryNote(limits, signal: sig)
        default:
            how += memoryNote(limits, signal: sig)
        }
        return how
    }

    private static func memoryNote(_ l: WorkerLimits, signal: Int32?) -> String {
        guard l.memoryLimitMB > 0 else { return "" }
        if let s = signal, ![SIGSEGV, SIGABRT, SIGBUS].contains(s) { return "" }
        return "; its memory limit is \(l.memoryLimitMB) MiB of address space, and an allocation past it fails"
    }

    static func signalName(_ s: Int32) -> String {
        let names: [Int32: String] = [SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
            SIGILL: "SIGILL", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGXCPU: "SIGXCPU", SIGSYS: "SIGSYS",
            SIGTRAP: "SIGTRAP", SIGPIPE: "SIGPIPE", SIGINT: "SIGINT", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT",
            SIGXFSZ: "SIGXFSZ", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGALRM: "SIGALRM"]
        return names[s] ?? "signal \(s)"
    }
}

/// Exit statuses the worker itself uses.
enum WorkerExit {
    /// The serving thread ended inside plugin code (the main thread saw it join).
    static let servingThreadEnded: Int32 = 76
}

/// Where the `agentrt-worker` executable is: `$AGENTRT_WORKER` if set, else beside the running
/// executable, else beside the library that contains the runtime (libAgentRT.so).
public enum WorkerExecutable {
    public static func locate() -> String? {
        if let e = getenv("AGENTRT_WORKER") { return String(cString: e) }
        var dirs: [String] = []
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { dirs.append(dirname(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))) }
        // The directory of libAgentRT.so, when the runtime is embedded through the C API.
        if let maps = fopen("/proc/self/maps", "r") {
            defer { fclose(maps) }
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), maps) != nil {
                let n = line.firstIndex(of: 0) ?? line.count
                let text = String(decoding: line[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard let slash = text.firstIndex(of: "/"), text.contains("libAgentRT.so") else { continue }
                let path = text[slash...].trimmingCharacters(in: "\n")
                dirs.append(dirname(path))
                break
            }
        }
        for d in dirs {
            let candidate = d + "/agentrt-worker"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    private static func dirname(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return String(path[..<slash])
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
