import AgentRTCore
import AgentRTNative
import ArgumentParser

extension Isolation: ExpressibleByArgument {}

/// `--isolation` and the worker-process limits, shared by `run`, `call`, `serve` and `mcp`.
struct IsolationOptions: ParsableArguments {
    @Option(help: "Where plugins run: in-process (fastest, trusted code) or process (supervised worker processes: a crash ends only the call, a hung call is killed).")
    var isolation: Isolation = .inProcess

    @Option(help: "Worker processes per isolated plugin.")
    var workers: Int = 2

    @Option(name: .customLong("memory-limit-mb"), help: "Address-space limit of each worker process, MiB (0: none).")
    var memoryLimitMB: Int = 0

    @Option(name: .customLong("cpu-limit-ms"), help: "CPU time one isolated call may use, ms (0: none).")
    var cpuLimitMs: Int = 0

    func validate() throws {
        if workers < 1 || workers > 256 { throw ValidationError("--workers must be between 1 and 256") }
        if memoryLimitMB < 0 { throw ValidationError("--memory-limit-mb must be 0 or more") }
        if cpuLimitMs < 0 { throw ValidationError("--cpu-limit-ms must be 0 or more") }
    }

    var loadOptions: PluginLoadOptions {
        var l = WorkerLimits()
        l.memoryLimitMB = memoryLimitMB
        l.cpuLimitMs = cpuLimitMs
        return PluginLoadOptions(isolation: isolation, workers: workers, limits: l)
    }
}
