import AgentRTCore
import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// Process isolation end to end: the fixture plugins in Fixtures/isolation (compiled with `cc`
// and `c++` like any third-party plugin) run in agentrt-worker processes; each way a native
// plugin can die must end only its call, with the documented status and message, and leave
// the runtime, other users and other plugins unaffected.

private func isolatedRuntime(workers: Int = 2, limits: WorkerLimits = WorkerLimits(),
                             _ configure: (inout Runtime.Configuration) -> Void = { _ in }) async throws -> (Runtime, String) {
    let runtime = makeExecRuntime { c in
        c.breaker.minimumCalls = 1000   // crashes are the point here, not the breaker
        configure(&c)
    }
    let path = try await ExecFixtures.isolationFixture("iso_crash")
    _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: .process, workers: workers, limits: limits))
    return (runtime, path)
}

/// True in a ThreadSanitizer or AddressSanitizer build: their shadow memory needs more address
/// space than a memory limit leaves, so the limit test cannot run there.
private let sanitized = dlsym(nil, "__tsan_init") != nil || dlsym(nil, "__asan_init") != nil

private func pid(of r: RunResult) -> Int32? { execJSON(r.resultJSON)?["pid"]?.int64Value.map { Int32($0) } }

/// Nothing held after the calls ended: no zombie, nothing in flight (per agent and per user).
private func expectNothingHeld(_ runtime: Runtime, agent: String, user: String,
                               sourceLocation: SourceLocation = #_sourceLocation) async {
    let settled = await eventually {
        runtime.stats(plugin: "iso_crash", agent: agent)?.inFlight == 0 && runtime.stats(user: user)?.inFlight == 0
    }
    #expect(settled, "calls still in flight", sourceLocation: sourceLocation)
    #expect(runtime.stats(plugin: "iso_crash", agent: agent)?.zombies == 0, sourceLocation: sourceLocation)
    #expect(runtime.stats(user: user)?.zombies == 0, sourceLocation: sourceLocation)
}

@Suite("Process isolation")
struct IsolationTests {
    static let deaths: [(agent: String, says: String)] = [
        ("segv", "killed by SIGSEGV"), ("abort_", "killed by SIGABRT"), ("exit0", "exited with status 0"),
        ("exit3", "exited with status 3"), ("thread_exit", "ended the worker's serving thread"),
    ]

    @Test("a worker that dies inside a call ends only that call, crashed, naming how; the worker comes back",
          arguments: deaths)
    func workerDeath(_ death: (agent: String, says: String)) async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1)
        defer { runtime.shutdown() }
        // A healthy in-process plugin beside it, used by another user at the same time.
        let healthy = try await ExecFixtures.fixture("exec_tools")
        _ = try runtime.loadPlugin(path: healthy, options: PluginLoadOptions(isolation: .inProcess))
        let before = try #require(pid(of: await runtime.run(request("iso_crash", "ok", user: "ann"))))

        async let others: [RunResult] = withTaskGroup(of: RunResult.self) { g in
            for i in 0..<20 {
                g.addTask { await runtime.run(request("exec_tools", "echo", user: "bob-\(i)", input: #"{"i":\#(i)}"#)) }
            }
            return await g.reduce(into: []) { $0.append($1) }
        }
        let r = await runtime.run(request("iso_crash", death.agent, user: "ann"))
        #expect(r.error?.code == .crashed, "outcome: \(r.outcome)")
        #expect(r.error?.message.contains(death.says) == true, "\(r.error?.message ?? "")")
        #expect(r.error?.message.contains("worker process for plugin iso_crash") == true)
        let results = await others
        #expect(results.count == 20 && results.allSatisfy(\.isSuccess), "the other user's in-process calls all succeed")
        for res in results { #expect(execJSON(res.resultJSON)?["i"] != nil) }

        let after = await runtime.run(request("iso_crash", "ok", user: "ann"))
        #expect(after.isSuccess, "the worker is back: \(after.outcome)")
        #expect(pid(of: after) != before, "a new worker process serves it")
        await expectNothingHeld(runtime, agent: death.agent, user: "ann")
        #expect(runtime.stats(plugin: "iso_crash", agent: death.agent)?.failures[.crashed] == 1)
    }

    @Test("a C++ exception escaping run ends the call crashed (SIGABRT), not the host")
    func cplusplusException() async throws {
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        let path = try await ExecFixtures.isolationFixture("iso_throw", cplusplus: true)
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: .process, workers: 1))
        let r = await runtime.run(request("iso_throw", "throw", user: "cy"))
        #expect(r.error?.code == .crashed, "outcome: \(r.outcome)")
        #expect(r.error?.message.contains("killed by SIGABRT") == true, "\(r.error?.message ?? "")")
    }

    @Test("a hung isolated call is killed at deadline + grace: a timeout, no zombie, nothing held, worker replaced")
    func hungCallIsKilled() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1) { $0.grace = .milliseconds(100) }
        defer { runtime.shutdown() }
        let before = try #require(pid(of: await runtime.run(request("iso_crash", "ok", user: "dee"))))
        let r = await runtime.run(request("iso_crash", "hang", user: "dee", timeout: .milliseconds(150)))
        #expect(r.error?.code == .timeout, "outcome: \(r.outcome)")
        #expect(r.error?.message.contains("its worker process was killed") == true, "\(r.error?.message ?? "")")
        await expectNothingHeld(runtime, agent: "hang", user: "dee")
        #expect(runtime.counters.zombiesReturned.load(ordering: .relaxed) == 0, "it never was a zombie")
        let after = await runtime.run(request("iso_crash", "ok", user: "dee"))
        #expect(after.isSuccess, "\(after.outcome)")
        #expect(pid(of: after) != before)
    }

    @Test("a session_open that hangs in a worker is killed at deadline + grace: a timeout, nothing held")
    func hungSessionOpenIsKilled() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1) { $0.grace = .milliseconds(100) }
        defer { runtime.shutdown() }
        var req = request("iso_crash", "hang_open", user: "dot", timeout: .milliseconds(150))
        req.sessionID = "s"
        let r = await runtime.run(req)
        #expect(r.error?.code == .timeout, "outcome: \(r.outcome)")
        #expect(r.error?.message.contains("session_open did not return") == true, "\(r.error?.message ?? "")")
        await expectNothingHeld(runtime, agent: "hang_open", user: "dot")
        #expect(await runtime.run(request("iso_crash", "ok", user: "dot")).isSuccess, "the worker was replaced")
    }

    @Test("cooperative cancellation reaches is_cancelled in the worker")
    func cancellationReachesWorker() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1)
        defer { runtime.shutdown() }
        let r = await runtime.run(request("iso_crash", "polite", user: "eve", timeout: .milliseconds(100)))
        #expect(r.error?.code == .timeout, "the deadline cancelled it: \(r.outcome)")
        #expect(r.error?.message.contains("killed") == false, "it stopped by itself: \(r.error?.message ?? "")")
        let after = await runtime.run(request("iso_crash", "ok", user: "eve"))
        #expect(after.isSuccess)
    }

    @Test("the memory and CPU-time limits end the call crashed, naming the limit",
          .enabled(if: !sanitized, "a sanitizer's shadow memory does not fit under an address-space limit"))
    func limits() async throws {
        var memory = WorkerLimits()
        memory.memoryLimitMB = 256
        let (runtime, _) = try await isolatedRuntime(workers: 1, limits: memory)
        defer { runtime.shutdown() }
        let hog = await runtime.run(request("iso_crash", "hog", user: "fay"))
        #expect(hog.error?.code == .crashed, "\(hog.outcome)")
        #expect(hog.error?.message.contains("memory limit is 256 MiB") == true, "\(hog.error?.message ?? "")")
        var cpu = WorkerLimits()
        cpu.cpuLimitMs = 150
        let (spinner, _) = try await isolatedRuntime(workers: 1, limits: cpu)
        defer { spinner.shutdown() }
        let spin = await spinner.run(request("iso_crash", "spin", user: "fay", timeout: .seconds(20)))
        #expect(spin.error?.code == .crashed, "\(spin.outcome)")
        #expect(spin.error?.message.contains("CPU-time limit of 150 ms") == true, "\(spin.error?.message ?? "")")
        #expect(await spinner.run(request("iso_crash", "ok", user: "fay")).isSuccess)
        #expect(await runtime.run(request("iso_crash", "ok", user: "fay")).isSuccess)
    }

    @Test("isolated agents call their own JSON and typed tools (re-entering their worker); hosts call isolated tools")
    func tools() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1)
        defer { runtime.shutdown() }
        let log = EventLog(runtime, user: "gus")
        defer { log.cancel() }
        let r = await runtime.run(request("iso_crash", "tools", user: "gus"))
        #expect(r.isSuccess, "\(r.outcome)")
        let o = try #require(execJSON(r.resultJSON))
        #expect(o["json"]?["got"]?["x"]?.int64Value == 1)
        #expect(o["add"]?.int64Value == 42)
        let agentPid = try #require(pid(of: await runtime.run(request("iso_crash", "ok", user: "gus"))))
        #expect(o["json"]?["pid"]?.int64Value == Int64(agentPid), "the JSON tool ran in the agent's own worker")
        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentCompleted)
        expectContiguous(events)
        let tools = events.filter { $0.kind == .toolExecuting }.compactMap { $0.data["tool"]?.stringValue }
        #expect(tools == ["iso_crash.echo", "iso_crash.add"], "\(tools)")
        #expect(events.filter { $0.kind == .toolCompleted }.count == 2)

        let host = runtime.callTool(userID: "gus", name: "iso_crash.add", argumentsJSON: #"{"a":1,"b":2}"#)
        #expect((try? host.get())?.content == "3", "\(host)")
        let bad = runtime.callTool(userID: "gus", name: "iso_crash.add", argumentsJSON: #"{"a":"x","b":2}"#)
        if case .failure(let e) = bad { #expect(e.code == .badArguments, "\(e)") } else { Issue.record("bad arguments accepted: \(bad)") }
    }

    @Test("sessions keep per-(user, session) state in both executors; removing a user closes them",
          arguments: [Isolation.inProcess, .process])
    func sessionsInBothExecutors(_ isolation: Isolation) async throws {
        let runtime = makeExecRuntime { $0.breaker.minimumCalls = 1000 }
        defer { runtime.shutdown() }
        let path = try await ExecFixtures.isolationFixture("iso_crash")
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: isolation, workers: 2))
        func n(_ user: String, _ session: String) async -> Int64? {
            var r = request("iso_crash", "counter", user: user)
            r.sessionID = session
            let result = await runtime.run(r)
            if !result.isSuccess { Issue.record("\(user)/\(session): \(result.outcome)") }
            return execJSON(result.resultJSON)?["n"]?.int64Value
        }
        #expect(await n("ka", "s1") == 1)
        #expect(await n("ka", "s1") == 2)
        #expect(await n("ka", "s2") == 1)
        #expect(await n("kb", "s1") == 1, "another user's session of the same id is its own")
        #expect(await n("ka", "s1") == 3)
        runtime.removeUser("ka")
        #expect(await n("ka", "s1") == 1, "a removed user's sessions were closed; a new one starts")
        #expect(await n("kb", "s1") == 2, "the other user kept theirs")
    }

    @Test("a session's state survives 600 back-to-back calls: no healthy worker is taken for a dead one",
          .timeLimit(.minutes(2)))
    func healthyWorkersStayUp() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 2)
        defer { runtime.shutdown() }
        let pids = Set(runtime.workerPIDs(ofPlugin: "iso_crash"))
        var req = request("iso_crash", "counter", user: "lee")
        req.sessionID = "long"
        for i in 1...600 {
            let r = await runtime.run(req)
            let n = execJSON(r.resultJSON)?["n"]?.int64Value
            try #require(n == Int64(i), "call \(i): \(r.outcome)")
        }
        #expect(Set(runtime.workerPIDs(ofPlugin: "iso_crash")) == pids, "no worker was replaced")
        #expect(runtime.workerHealth(ofPlugin: "iso_crash")?.restarts == 0)
    }

    @Test("a session lives in one worker; killed from outside, its user gets session_lost and a fresh session")
    func sessionLost() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 2)
        defer { runtime.shutdown() }
        let log = EventLog(runtime, user: "hal")
        defer { log.cancel() }
        var req = request("iso_crash", "counter", user: "hal")
        req.sessionID = "s1"
        let one = await runtime.run(req), two = await runtime.run(req)
        #expect(execJSON(one.resultJSON)?["n"]?.int64Value == 1)
        #expect(execJSON(two.resultJSON)?["n"]?.int64Value == 2)
        let worker = try #require(pid(of: two))
        #expect(pid(of: one) == worker, "both calls ran in the session's worker")
        #expect(kill(worker, SIGKILL) == 0)
        let lost = await log.collect { $0.contains { $0.kind == .sessionLost } }.first { $0.kind == .sessionLost }
        #expect(lost?.sessionID == "s1")
        #expect(lost?.data["reason"]?.stringValue?.contains("killed by SIGKILL") == true, "\(lost?.json ?? "none")")
        let three = await runtime.run(req)
        #expect(three.isSuccess, "\(three.outcome)")
        #expect(execJSON(three.resultJSON)?["n"]?.int64Value == 1, "a new session: \(three.resultJSON ?? "")")
    }

    @Test("a worker killed from outside mid-call ends that call crashed (SIGKILL) and nothing stays held")
    func killedMidCall() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 1)
        defer { runtime.shutdown() }
        let pids = runtime.workerPIDs(ofPlugin: "iso_crash")
        #expect(pids.count == 1)
        async let hung = runtime.run(request("iso_crash", "hang", user: "ida", timeout: .seconds(30)))
        #expect(await eventually { runtime.stats(plugin: "iso_crash", agent: "hang")?.inFlight == 1 })
        try await Task.sleep(for: .milliseconds(20))
        kill(pids[0], SIGKILL)
        let r = await hung
        #expect(r.error?.code == .crashed, "\(r.outcome)")
        #expect(r.error?.message.contains("killed by SIGKILL") == true, "\(r.error?.message ?? "")")
        await expectNothingHeld(runtime, agent: "hang", user: "ida")
        #expect(await runtime.run(request("iso_crash", "ok", user: "ida")).isSuccess)
    }

    @Test("100 users at once on isolated workers: every result is the caller's own")
    func manyUsers() async throws {
        let (runtime, _) = try await isolatedRuntime(workers: 2)
        defer { runtime.shutdown() }
        let results = await withTaskGroup(of: (Int, RunResult).self) { g in
            for u in 0..<100 { g.addTask { (u, await runtime.run(request("iso_crash", "ok", user: "u\(u)"))) } }
            return await g.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 100)
        for (_, r) in results { #expect(r.isSuccess, "\(r.outcome)") }
        #expect(Set(results.compactMap { pid(of: $0.1) }).count <= 2)
    }

    @Test("a plugin that crashes when restarted is disabled with the reason, not restarted forever")
    func crashOnRestartDisables() async throws {
        let runtime = makeExecRuntime { $0.breaker.minimumCalls = 1000 }
        defer { runtime.shutdown() }
        let path = try await ExecFixtures.isolationFixture("iso_flaky")
        let marker = ExecFixtures.directory.appendingPathComponent("flaky-\(UUID().uuidString)").path
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: .process, workers: 1,
                                                                          config: #"{"marker":"\#(marker)"}"#))
        let first = await runtime.run(request("iso_flaky", "die", user: "jo"))
        #expect(first.error?.code == .crashed, "\(first.outcome)")
        #expect(first.error?.message.contains("exited with status 1") == true, "\(first.error?.message ?? "")")
        #expect(await eventually { runtime.workerHealth(ofPlugin: "iso_flaky")?.disabled != nil })
        let why = runtime.workerHealth(ofPlugin: "iso_flaky")?.disabled ?? ""
        #expect(why.contains("failed to load the plugin"), "\(why)")
        let next = await runtime.run(request("iso_flaky", "die", user: "jo"))
        #expect(next.error?.code == .crashed, "\(next.outcome)")
        #expect(next.error?.message.contains("is disabled") == true, "\(next.error?.message ?? "")")
    }

    @Test("an isolated load reports the same refusal as an in-process one; a missing worker is named")
    func loadErrors() async throws {
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        let notAPlugin = ExecFixtures.directory.appendingPathComponent("libnot_a_plugin.so").path
        let src = ExecFixtures.directory.appendingPathComponent("not_a_plugin.c")
        try "int not_a_plugin = 1;\n".write(to: src, atomically: true, encoding: .utf8)
        let cc = try await ExecFixtures.runProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", src.path, "-o", notAPlugin])
        #expect(cc.status == 0)
        do {
            _ = try runtime.loadPlugin(path: notAPlugin, options: PluginLoadOptions(isolation: .process))
            Issue.record("loaded")
        } catch {
            #expect(error.code == .missingMagic, "\(error)")
        }
        do {
            _ = try runtime.loadPlugin(path: "/nonexistent/libx.so", options: PluginLoadOptions(isolation: .process))
            Issue.record("loaded")
        } catch {
            #expect(error.code == .fileNotFound, "\(error)")
        }
    }
}
