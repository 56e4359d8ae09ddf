import AgentRTCore
import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// Support for NativeExecutionTests and CLITests: compiling C fixtures the way a plugin author
// does, running programs without blocking Swift's cooperative threads, finding the build
// products (agentrt, libSwiftPlannerPlugin.so), reading event streams and waiting for conditions.

struct ExecFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a finished program printed and how it ended.
struct ExecProcessResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
    /// Killed because it outlived the allowed time.
    let timedOut: Bool

    /// Non-empty stdout lines.
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

enum ExecFixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let include = repository.appendingPathComponent("include")
    static let fixtureSources = repository.appendingPathComponent("Tests/AgentRTNativeTests/Fixtures/exec")

    /// The per-process folder for compiled fixtures; removed when the test process exits.
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("agentrt-exec-\(getpid())-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: ExecFixtures.directory) }
        return url
    }()

    private static let builds = Locked<[String: Task<String, any Error>]>([:])

    /// `lib<name>.so` built from `Tests/AgentRTNativeTests/Fixtures/exec/<name>.c` (once per process).
    static func fixture(_ name: String) async throws -> String {
        try await library(key: "fixture:\(name)", source: fixtureSources.appendingPathComponent("\(name).c"),
                          output: directory.appendingPathComponent("lib\(name).so"))
    }

    /// An example plugin, e.g. `example("c-basics/basics")`, built from `plugins/` into the temp folder.
    static func example(_ relative: String) async throws -> String {
        let name = URL(fileURLWithPath: relative).lastPathComponent
        return try await library(key: "example:\(relative)",
                                 source: repository.appendingPathComponent("plugins/\(relative).c"),
                                 output: directory.appendingPathComponent("libexample_\(name).so"))
    }

    /// `lib<name>.so` from `Fixtures/isolation/<name>.c` (or `.cc`, built with `c++`).
    static func isolationFixture(_ name: String, cplusplus: Bool = false) async throws -> String {
        let src = repository.appendingPathComponent("Tests/AgentRTNativeTests/Fixtures/isolation/\(name).\(cplusplus ? "cc" : "c")")
        return try await library(key: "isolation:\(name)", source: src,
                                 output: directory.appendingPathComponent("lib\(name).so"), cplusplus: cplusplus)
    }

    private static func library(key: String, source: URL, output: URL, cplusplus: Bool = false) async throws -> String {
        let task = builds.withLock { tasks -> Task<String, any Error> in
            if let t = tasks[key] { return t }
            let t = Task<String, any Error> {
                let compiler = cplusplus ? ["c++"] : ["cc", "-std=c99"]
                let r = try await runProcess("/usr/bin/env", compiler + ["-shared", "-fPIC", "-fvisibility=hidden",
                                                             "-I", include.path, source.path, "-o", output.path])
                guard r.status == 0 else {
                    throw ExecFixtureError("cc failed to build \(source.path) (status \(r.status)):\n\(r.stderr)\(r.stdout)")
                }
                return output.path
            }
            tasks[key] = t
            return t
        }
        return try await task.value
    }

    /// Runs a program to completion without blocking a cooperative thread; kills it after `limit`.
    /// `environment` replaces the child's environment (nil: it inherits this process's).
    static func runProcess(_ executable: String, _ arguments: [String], limit: Duration = .seconds(120),
                           environment: [String: String]? = nil) async throws -> ExecProcessResult {
        let id = UUID().uuidString
        let outURL = directory.appendingPathComponent("out-\(id)")
        let errURL = directory.appendingPathComponent("err-\(id)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = ExecSignal()
        process.terminationHandler = { _ in exited.fire() }
        do { try process.run() } catch {
            try? out.close()
            try? err.close()
            throw ExecFixtureError("cannot run \(executable): \(error)")
        }
        let finished = await exited.wait(limit: limit)
        if !finished {
            process.terminate()
            _ = await exited.wait(limit: .seconds(10))
        }
        try? out.close()
        try? err.close()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return ExecProcessResult(status: finished ? process.terminationStatus : -1, stdout: stdout, stderr: stderr,
                                 timedOut: !finished)
    }

    /// The address of `symbol` in the plugin at `path`. Call it after the runtime loaded the
    /// plugin: glibc then hands back the runtime's mapping (same file identity), so the function
    /// sees the same globals as the agents. The reference is never dropped (plugins are never
    /// unloaded either), so the address stays valid for the life of the process.
    static func symbol(_ path: String, _ symbol: String) throws -> UnsafeMutableRawPointer {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ExecFixtureError("dlopen \(path): \(dlerror().map { String(cString: $0) } ?? "?")")
        }
        guard let s = dlsym(handle, symbol) else { throw ExecFixtureError("\(path) does not export \(symbol)") }
        return s
    }
}

/// A one-shot signal an async caller can wait on with a time limit (fired from any thread).
final class ExecSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false

    func fire() { lock.lock(); fired = true; lock.unlock() }
    var isFired: Bool { lock.lock(); defer { lock.unlock() }; return fired }

    /// Polls (suspending, never blocking a thread) until fired or `limit` passed.
    func wait(limit: Duration) async -> Bool {
        await eventually(timeout: limit, every: .milliseconds(5)) { self.isFired }
    }
}

/// Polls `condition` until it holds or `timeout` passes, suspending between polls.
@discardableResult
func eventually(timeout: Duration = .seconds(10), every: Duration = .milliseconds(5),
                _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while true {
        if condition() { return true }
        if clock.now >= end { return false }
        try? await Task.sleep(for: every)
    }
}

/// The build-products folder of this test run (where SwiftPM put the test bundle, `agentrt` and
/// `libSwiftPlannerPlugin.so`).
enum BuildProducts {
    static let folder: URL? = {
        var candidates: [URL] = []
        if let a0 = CommandLine.arguments.first { candidates.append(URL(fileURLWithPath: a0).standardizedFileURL) }
        candidates.append(URL(fileURLWithPath: Bundle.main.bundlePath))
        if let e = Bundle.main.executablePath { candidates.append(URL(fileURLWithPath: e)) }
        for b in Bundle.allBundles { candidates.append(URL(fileURLWithPath: b.bundlePath)) }
        var fallback: URL? = nil
        for c in candidates {
            var dir = c
            for _ in 0..<6 {
                let plugin = dir.appendingPathComponent("libSwiftPlannerPlugin.so").path
                let exe = dir.appendingPathComponent("agentrt").path
                if FileManager.default.fileExists(atPath: plugin) { return dir }
                if fallback == nil, FileManager.default.isExecutableFile(atPath: exe), !isDirectory(exe) { fallback = dir }
                dir = dir.deletingLastPathComponent()
            }
        }
        return fallback
    }()

    static var swiftPlannerPlugin: String? { existing("libSwiftPlannerPlugin.so") }
    static var agentrt: String? { existing("agentrt") }

    private static func existing(_ name: String) -> String? {
        guard let p = folder?.appendingPathComponent(name).path, FileManager.default.fileExists(atPath: p),
              !isDirectory(p) else { return nil }
        return p
    }

    private static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Where we looked, for failure messages.
    static var searched: String {
        "test bundle: \(CommandLine.arguments.first ?? "?"), Bundle.main: \(Bundle.main.bundlePath), found folder: \(folder?.path ?? "none")"
    }
}

/// A runtime for one test: quiet logs, no idle sweeper (its timing is not what these tests are
/// about), everything else as configured. Timing tests pass a `ManualClock` and move it with
/// `runtime.advance(clock, by:)` instead of waiting.
func makeExecRuntime(clock: any RuntimeClock = SystemClock(),
                     _ configure: (inout Runtime.Configuration) -> Void = { _ in }) -> Runtime {
    var c = Runtime.Configuration()
    c.logLevel = 5
    c.idleUserExpiry = nil
    configure(&c)
    return Runtime(configuration: c, clock: clock)
}

/// Events of one subscriber, read with `poll()` so nothing blocks.
final class EventLog: @unchecked Sendable {
    let subscription: EventSubscription
    private let lock = NSLock()
    private var seen: [Event] = []

    init(_ runtime: Runtime, user: String) { subscription = runtime.events.subscribe(userID: user) }

    /// Everything delivered so far.
    @discardableResult
    func drain() -> [Event] {
        lock.lock()
        defer { lock.unlock() }
        while let e = subscription.poll() { seen.append(e) }
        return seen
    }

    /// Drains until `condition` holds on everything delivered (or `timeout`), then returns it all.
    func collect(timeout: Duration = .seconds(10), until condition: ([Event]) -> Bool) async -> [Event] {
        await eventually(timeout: timeout) { condition(self.drain()) }
        return drain()
    }

    /// Waits until the run `runID` has its terminal event, then a little longer (so that anything
    /// that would wrongly follow it has a chance to show up), and returns everything.
    func collectRun(_ runID: String, settle: Duration = .milliseconds(100)) async -> [Event] {
        _ = await collect { es in es.contains { $0.runID == runID && $0.kind.isTerminal } }
        try? await Task.sleep(for: settle)
        return drain()
    }

    func cancel() { subscription.cancel() }
}

extension Event {
    /// The `name` of a custom event.
    var customName: String? { kind == .custom ? data["name"]?.stringValue : nil }
}

/// Parses JSON text for assertions.
func execJSON(_ text: String?) -> JSONValue? {
    guard let text else { return nil }
    return try? JSONValue.parse(text)
}

/// A request for the exec fixtures' agents.
func request(_ plugin: String, _ agent: String, user: String, input: String = "{}",
                     timeout: Duration? = nil, heartbeat: Duration? = nil,
                     metadata: [String: String] = [:]) -> RunRequest {
    RunRequest(plugin: plugin, agent: agent, userID: user, input: input, timeout: timeout,
               heartbeatTimeout: heartbeat, metadata: metadata)
}

/// Checks the envelope rules for one run in a user's stream: agent_started first, exactly one
/// terminal event, and nothing of the run (or of its tool calls) after that terminal event.
func expectWellFormedRun(_ events: [Event], runID: String, terminal: Event.Kind,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    let ofRun = events.filter { $0.runID == runID || $0.parentRunID == runID }
    #expect(ofRun.first?.kind == .agentStarted, "first event of \(runID): \(String(describing: ofRun.first?.kind))",
            sourceLocation: sourceLocation)
    let terminals = ofRun.filter { $0.kind.isTerminal }
    #expect(terminals.count == 1, "terminal events of \(runID): \(terminals.map(\.kind))", sourceLocation: sourceLocation)
    #expect(terminals.first?.kind == terminal, sourceLocation: sourceLocation)
    if let t = terminals.first {
        let after = ofRun.filter { $0.seq > t.seq }
        #expect(after.isEmpty, "events of \(runID) after its terminal event: \(after.map(\.json))",
                sourceLocation: sourceLocation)
    }
}

/// A user's stream has strictly increasing seq values with no gaps.
func expectContiguous(_ events: [Event], sourceLocation: SourceLocation = #_sourceLocation) {
    let seqs = events.map(\.seq)
    for (a, b) in zip(seqs, seqs.dropFirst()) where b != a + 1 {
        Issue.record("seq jumps from \(a) to \(b)", sourceLocation: sourceLocation)
        return
    }
}
