import AgentRTCore
import AgentRTNative
import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("agentrt_version")
public func agentrt_version() -> UnsafePointer<CChar> { versionCString }

private nonisolated(unsafe) let versionCString: UnsafePointer<CChar> = UnsafePointer(cString(AgentRTVersion.string))
private nonisolated(unsafe) let statusNames: [UnsafePointer<CChar>] =
    (0..<HostStatus.allCases.count).map { UnsafePointer(cString(HostStatus(rawValue: Int32($0))!.name)) }
private nonisolated(unsafe) let unknownStatus: UnsafePointer<CChar> = UnsafePointer(cString("unknown_status"))

@_cdecl("agentrt_status_string")
public func agentrt_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    status >= 0 && Int(status) < statusNames.count ? statusNames[Int(status)] : unknownStatus
}

@_cdecl("agentrt_free")
public func agentrt_free(_ p: UnsafeMutableRawPointer?) { free(p) }

@_cdecl("agentrt_host_table")
public func agentrt_host_table() -> UnsafePointer<agentrt_host> { NativeHost.hostTable }

@_cdecl("agentrt_runtime_new")
public func agentrt_runtime_new(_ config: UnsafePointer<agentrt_config>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    out.pointee = nil
    var c = Runtime.Configuration()
    if let config {
        // Members are only ever appended: a struct from an older header is read up to its size
        // (the rest keep their defaults); anything smaller than the first release's is misuse.
        let size = Int(config.pointee.struct_size)
        let firstRelease = MemoryLayout<agentrt_config>.offset(of: \agentrt_config.log_level)!
        guard size >= firstRelease else { return HostStatus.invalidArgument.rawValue }
        var v = agentrt_config()
        withUnsafeMutableBytes(of: &v) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: config, count: min(size, MemoryLayout<agentrt_config>.size)))
        }
        func ms(_ x: UInt32) -> Duration { .milliseconds(Int64(x)) }
        if v.per_user_limit > 0 { c.perUserLimit = Int(v.per_user_limit) }
        if v.global_limit > 0 { c.globalLimit = Int(v.global_limit) }
        if v.admission_wait_ms > 0 { c.admissionWait = ms(v.admission_wait_ms) }
        if v.default_timeout_ms > 0 { c.defaultTimeout = ms(v.default_timeout_ms) }
        if v.grace_ms > 0 { c.grace = ms(v.grace_ms) }
        if v.heartbeat_timeout_ms > 0 { c.defaultHeartbeatTimeout = ms(v.heartbeat_timeout_ms) }
        if v.breaker_window > 0 { c.breaker.windowSize = Int(v.breaker_window) }
        if v.breaker_minimum_calls > 0 { c.breaker.minimumCalls = Int(v.breaker_minimum_calls) }
        if v.breaker_failure_percent > 0 {
            guard v.breaker_failure_percent <= 100 else { return HostStatus.invalidArgument.rawValue }
            c.breaker.failureRateThreshold = Double(v.breaker_failure_percent) / 100
        }
        if v.breaker_wait_ms > 0 { c.breaker.waitDuration = ms(v.breaker_wait_ms) }
        if v.quarantine_threshold > 0 { c.quarantineThreshold = Int(v.quarantine_threshold) }
        if v.replay_capacity > 0 { c.replayCapacity = Int(v.replay_capacity) }
        if v.tool_timeout_ms > 0 { c.toolTimeout = ms(v.tool_timeout_ms) }
        if v.log_level > 0 {
            guard v.log_level <= 6 else { return HostStatus.invalidArgument.rawValue }
            c.logLevel = Int32(v.log_level) - 1
        }
        switch v.isolation {
        case AGENTRT_ISOLATION_IN_PROCESS: c.isolation = .inProcess
        case AGENTRT_ISOLATION_PROCESS: c.isolation = .process
        default: return HostStatus.invalidArgument.rawValue
        }
        switch v.caller_thread {
        case 0: c.synchronousExecution = .handOff
        case 1: c.synchronousExecution = .callerThread
        default: return HostStatus.invalidArgument.rawValue
        }
        if v.workers_per_plugin > 0 {
            guard v.workers_per_plugin <= 256 else { return HostStatus.invalidArgument.rawValue }
            c.workersPerPlugin = Int(v.workers_per_plugin)
        }
    }
    let runtime = Runtime(configuration: c)
    // The library writes nothing to the host's stderr unless asked (agentrt_set_log_callback).
    runtime.logSink.withLock { $0 = { _, _ in } }
    NativeHost.processLogSink.withLock { sink in if sink == nil { sink = { _, _ in } } }
    out.pointee = RuntimeHandles.register(EmbeddedRuntime(runtime: runtime))
    return HostStatus.ok.rawValue
}

/// Carries a C log callback into Swift closures.
private struct CLogSink: @unchecked Sendable {
    let callback: agentrt_log_callback
    let userData: UnsafeMutableRawPointer?
    let minLevel: Int32
    func callAsFunction(_ level: Int32, _ line: String) {
        guard level >= minLevel else { return }
        var l = line
        l.withUTF8 { b in
            b.withMemoryRebound(to: CChar.self) { c in
                // NUL-terminated copy: the sanitised line has no NUL inside (controls are escaped).
                let buf = UnsafeMutablePointer<CChar>.allocate(capacity: c.count + 1)
                defer { buf.deallocate() }
                if let base = c.baseAddress { buf.update(from: base, count: c.count) }
                buf[c.count] = 0
                callback(userData, level, buf, c.count)
            }
        }
    }
}

@_cdecl("agentrt_set_log_callback")
public func agentrt_set_log_callback(_ rt: OpaquePointer?, _ minLevel: Int32, _ callback: agentrt_log_callback?,
                                     _ userData: UnsafeMutableRawPointer?) -> Int32 {
    withRuntime(rt) { e in
        guard (0...5).contains(minLevel) else { return .invalidArgument }
        let owner = ObjectIdentifier(e)
        guard let callback else {
            e.runtime.logSink.withLock { $0 = { _, _ in } }
            ProcessLog.release(owner)
            return .ok
        }
        let sink = CLogSink(callback: callback, userData: userData, minLevel: minLevel)
        e.runtime.logSink.withLock { $0 = { level, line in sink(level, line) } }
        ProcessLog.claim(owner) { level, line in sink(level, line) }
        return .ok
    }
}

@_cdecl("agentrt_runtime_free")
public func agentrt_runtime_free(_ rt: OpaquePointer?) -> Int32 {
    withRuntime(rt) { _ in
        guard let e = RuntimeHandles.remove(rt) else { return .staleHandle }
        let subs = e.lock.withLock { () -> [CallbackSubscription] in
            e.closed = true   // a racing agentrt_subscribe sees this and undoes itself
            defer { e.subscriptions.removeAll() }
            return Array(e.subscriptions.values)
        }
        for s in subs { s.cancel() }
        ProcessLog.release(ObjectIdentifier(e))
        // Ends every run (completion callbacks called once each before this returns), closes
        // every session and runs plugins' on_shutdown.
        e.runtime.shutdown()
        return .ok
    }
}

@_cdecl("agentrt_load_plugin")
public func agentrt_load_plugin(_ rt: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ config: UnsafePointer<CChar>?,
                                _ outName: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outName)
    store(nil, outError)
    return withRuntime(rt, outError: outError) { e in
        guard let p = swiftString(path) else { store("path is NULL or not UTF-8", outError); return .invalidArgument }
        let cfg = config == nil ? "{}" : swiftString(config)
        guard let cfg, JSONValue.isValid(cfg) else { store("config_json is not valid JSON", outError); return .invalidArgument }
        return load(e, path: p, PluginLoadOptions(config: cfg), outName, outError)
    }
}

@_cdecl("agentrt_load_plugin_with")
public func agentrt_load_plugin_with(_ rt: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                     _ opts: UnsafePointer<agentrt_load_options>?,
                                     _ outName: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                     _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outName)
    store(nil, outError)
    return withRuntime(rt, outError: outError) { e in
        guard let p = swiftString(path) else { store("path is NULL or not UTF-8", outError); return .invalidArgument }
        var options = PluginLoadOptions()
        if let opts {
            guard Int(opts.pointee.struct_size) >= MemoryLayout<agentrt_load_options>.size else {
                store("agentrt_load_options.struct_size is \(opts.pointee.struct_size), expected \(MemoryLayout<agentrt_load_options>.size)", outError)
                return .invalidArgument
            }
            let o = opts.pointee
            switch o.isolation {
            case AGENTRT_ISOLATION_IN_PROCESS: options.isolation = .inProcess
            case AGENTRT_ISOLATION_PROCESS: options.isolation = .process
            default:
                store("agentrt_load_options.isolation is \(o.isolation): use AGENTRT_ISOLATION_IN_PROCESS (0) or AGENTRT_ISOLATION_PROCESS (1)", outError)
                return .invalidArgument
            }
            guard o.workers <= 256 else { store("agentrt_load_options.workers is \(o.workers): at most 256", outError); return .invalidArgument }
            options.workers = Int(o.workers)
            options.limits.memoryLimitMB = Int(o.memory_limit_mb)
            options.limits.cpuLimitMs = Int(o.cpu_limit_ms)
            if o.config_json != nil {
                guard let cfg = swiftString(o.config_json), JSONValue.isValid(cfg) else {
                    store("config_json is not valid JSON", outError)
                    return .invalidArgument
                }
                options.config = cfg
            }
        }
        return load(e, path: p, options, outName, outError)
    }
}

private func load(_ e: EmbeddedRuntime, path: String, _ options: PluginLoadOptions,
                  _ outName: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                  _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> HostStatus {
    do throws(PluginLoadError) {
        let plugin = try e.runtime.loadPlugin(path: path, options: options)
        store(plugin.name, outName)
        return .ok
    } catch {
        store("[\(error.code.rawValue)] \(error.message)", outError)
        return .loadFailed
    }
}

/// Which runtime's callback receives plugin log lines written without a call (on_init): the
/// most recent to set one; silenced again when that runtime sets NULL or is freed, so a host's
/// callback and user_data are never called after it withdrew them.
enum ProcessLog {
    private static let owner = Locked<ObjectIdentifier?>(nil)

    static func claim(_ o: ObjectIdentifier, _ sink: @escaping @Sendable (Int32, String) -> Void) {
        owner.withLock { cur in
            cur = o
            NativeHost.processLogSink.withLock { $0 = sink }
        }
    }

    static func release(_ o: ObjectIdentifier) {
        owner.withLock { cur in
            guard cur == o else { return }
            cur = nil
            NativeHost.processLogSink.withLock { $0 = { _, _ in } }
        }
    }
}
