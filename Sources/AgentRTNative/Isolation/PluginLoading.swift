public import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// How to load one plugin.
public struct PluginLoadOptions: Sendable {
    /// In-process or in worker processes; nil: the runtime's `Configuration.isolation`.
    public var isolation: Isolation?
    /// Worker processes (process isolation); 0: the runtime's `Configuration.workersPerPlugin`.
    public var workers: Int = 0
    /// Limits of each worker process (process isolation).
    public var limits = WorkerLimits()
    /// JSON handed to the plugin's `on_init`.
    public var config: String = "{}"
    public init(isolation: Isolation? = nil, workers: Int = 0, limits: WorkerLimits = WorkerLimits(), config: String = "{}") {
        self.isolation = isolation
        self.workers = workers
        self.limits = limits
        self.config = config
    }
}

/// What a load made available, in either mode.
public struct LoadedPlugin: Sendable {
    public let name: String
    public let version: String
    public let description: String
    public let path: String
    /// The plugin ABI it was built for, `major.minor`.
    public let abi: String
    public let isolation: Isolation
    public let agents: [AgentDescriptor]
    public let tools: [ToolDescriptor]
    /// Worker processes serving it (process isolation).
    public let workers: Int
}

/// The isolated plugins each runtime loaded, by file (a second load of the same file returns
/// the first).
enum IsolatedPlugins {
    struct Entry {
        let loaded: LoadedPlugin
        let pool: ProcessWorkerPool
    }
    /// By runtime; a pool names its runtime weakly, so an entry left by a runtime that was
    /// freed without a shutdown is never mistaken for a new runtime at the same address.
    static let table = Locked<[ObjectIdentifier: [FileID: Entry]]>([:])

    static func entries(_ runtime: Runtime) -> [FileID: Entry] {
        table.withLock { t in
            let k = ObjectIdentifier(runtime)
            guard let e = t[k] else { return [:] }
            if e.values.contains(where: { $0.pool.runtime !== runtime }) { t.removeValue(forKey: k); return [:] }
            return e
        }
    }

    static func pool(_ runtime: Runtime, plugin: String) -> ProcessWorkerPool? {
        entries(runtime).values.first { $0.loaded.name == plugin }?.pool
    }
}

extension Runtime {
    /// Loads a plugin in-process or isolated in worker processes, and registers its agents
    /// and tools; guards, events, stats and tools work the same in both modes.
    public func loadPlugin(path: String, options: PluginLoadOptions = PluginLoadOptions()) throws(PluginLoadError) -> LoadedPlugin {
        let mode = options.isolation ?? configuration.isolation
        if mode == .inProcess {
            let p = try load(path: path, config: options.config)
            return LoadedPlugin(name: p.name, version: p.version, description: p.description, path: p.path,
                                abi: "\(p.abiMajor).\(p.abiMinor)", isolation: .inProcess, agents: p.agents.map(\.descriptor), tools: p.tools.map(\.descriptor),
                                workers: 0)
        }
        return try loadIsolated(path: path, options: options)
    }

    private func loadIsolated(path: String, options: PluginLoadOptions) throws(PluginLoadError) -> LoadedPlugin {
        let fileID = try PluginLoader.identify(path)
        try PluginLoader.checkELF(path)
        let me = ObjectIdentifier(self)
        if let existing = IsolatedPlugins.entries(self)[fileID] { return existing.loaded }
        guard let executable = WorkerExecutable.locate() else {
            throw PluginLoadError(.workerFailed, path: path,
                "process isolation needs the agentrt-worker executable: it is not beside this program or libAgentRT.so (set AGENTRT_WORKER to its path)")
        }
        let count = options.workers > 0 ? options.workers : max(1, configuration.workersPerPlugin)
        guard count <= 256 else {
            throw PluginLoadError(.workerFailed, path: path, "workers is \(count); at most 256 worker processes per plugin")
        }
        let maxResult = configuration.maxResultBytes
        let (first, manifest) = try WorkerProcess.spawn(executable: executable, pluginPath: path, config: options.config,
                                                        limits: options.limits, maxResultBytes: maxResult, slot: 0, generation: 0)
        let pool = ProcessWorkerPool(pluginName: manifest.name, path: path, config: options.config, executable: executable,
                                     limits: options.limits, maxResultBytes: maxResult, first: first)
        pool.runtime = self
        pool.startSupervisor()
        do throws(PluginLoadError) {
            for i in 1..<max(1, count) {
                let (w, _) = try WorkerProcess.spawn(executable: executable, pluginPath: path, config: options.config,
                                                     limits: options.limits, maxResultBytes: maxResult, slot: i,
                                                     generation: pool.nextGeneration())
                pool.add(w)
            }
            if agentDescriptors.contains(where: { $0.plugin == manifest.name })
                || tools.descriptors.contains(where: { $0.plugin == manifest.name }) {
                throw PluginLoadError(.duplicatePlugin, path: path, "a plugin named \"\(manifest.name)\" is already loaded")
            }
            for (i, a) in manifest.agents.enumerated() {
                do { try register(agent: a, implementation: IsolatedAgent(pool: pool, index: i, descriptor: a)) } catch {
                    throw PluginLoadError(.invalidDescriptor, path: path, error.message)
                }
            }
            for (i, t) in manifest.tools.enumerated() {
                do { try tools.register(t, implementation: IsolatedTool(pool: pool, index: i, descriptor: t)) } catch {
                    throw PluginLoadError(.invalidDescriptor, path: path, error.message)
                }
            }
        } catch {
            pool.shutdown()
            throw error
        }
        let loaded = LoadedPlugin(name: manifest.name, version: manifest.version, description: manifest.description,
                                  path: path, abi: "\(manifest.abiMajor).\(manifest.abiMinor)", isolation: .process, agents: manifest.agents, tools: manifest.tools,
                                  workers: count)
        IsolatedPlugins.table.withLock { $0[me, default: [:]][fileID] = .init(loaded: loaded, pool: pool) }
        addShutdownHook { _ in
            pool.shutdown()
            _ = IsolatedPlugins.table.withLock { $0[me]?.removeValue(forKey: fileID) }
        }
        return loaded
    }

    /// Pids of the worker processes of an isolated plugin (empty for in-process plugins).
    public func workerPIDs(ofPlugin name: String) -> [Int32] {
        IsolatedPlugins.pool(self, plugin: name)?.pids ?? []
    }

    /// Worker restarts of an isolated plugin so far, and why it is disabled (if it is).
    public func workerHealth(ofPlugin name: String) -> (restarts: Int, disabled: String?)? {
        guard let p = IsolatedPlugins.pool(self, plugin: name) else { return nil }
        return (p.restarts.load(ordering: .relaxed), p.disabledReason)
    }
}
