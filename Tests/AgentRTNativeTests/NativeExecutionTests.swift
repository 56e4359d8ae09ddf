import AgentRTCore
import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// The real native path end to end: C fixture plugins from Fixtures/exec (compiled by the test
// with the plugin author's command line), loaded with Runtime.load(path:), run on the runtime's
// worker threads: handles, results, emits, tools, the Swift plugin and isolation. The timing
// guards are in NativeGuardTests. No check measures real time.

private typealias HandlesProbeFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, Int32) -> Int32
private typealias HandlesStoredFn = @convention(c) (Int32) -> OpaquePointer?
private typealias HandlesLeakFn = @convention(c) (Int32, Int32) -> Int32
private typealias ToolsAddCallsFn = @convention(c) () -> Int32


/// The host functions exec_handles_probe calls, in order.
private let hostFunctionNames = ["user_id", "session_id", "run_id", "metadata", "is_cancelled", "remaining_ms",
                                 "heartbeat", "emit", "call_tool", "set_result", "set_error", "log"]

private func probeHandle(_ fn: HandlesProbeFn, _ handle: OpaquePointer?) -> [Int32] {
    var out = [Int32](repeating: -1, count: hostFunctionNames.count)
    let n = out.withUnsafeMutableBufferPointer { fn(handle, $0.baseAddress, Int32($0.count)) }
    return Array(out.prefix(Int(n)))
}

private func statusNames(_ statuses: [Int32]) -> String {
    zip(hostFunctionNames, statuses).map { "\($0)=\(HostStatus(rawValue: $1)?.name ?? String($1))" }
        .joined(separator: " ")
}


@Suite("NativeExecution", .serialized)
struct NativeExecutionTests {
    // MARK: - Handle misuse

    @Test("stale, forged and NULL handles and NULL out pointers yield statuses, never crashes")
    func handleMisuse() async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
        let probe = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_probe"), to: HandlesProbeFn.self)
        let stored = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_stored"), to: HandlesStoredFn.self)
        let stale = HostStatus.staleHandle.rawValue
        let invalid = HostStatus.invalidHandle.rawValue
        let invalidArgument = HostStatus.invalidArgument.rawValue

        // A call stores its handle in a global and returns.
        let keep = await runtime.run(request("exec_handles", "keeper", user: "erin", input: #"{"slot":1}"#,
                                             metadata: ["k": "v"]))
        #expect(keep.isSuccess, "outcome: \(keep.outcome)")
        let old = try #require(stored(1))

        // From Swift, through a test-exported C function: every host function says STALE.
        let fromSwift = probeHandle(probe, old)
        #expect(fromSwift.count == hostFunctionNames.count)
        #expect(fromSwift.allSatisfy { $0 == stale }, "\(statusNames(fromSwift))")

        // From a later call of the plugin (another user, even): the same.
        let later = await runtime.run(request("exec_handles", "stale_user", user: "frank", input: #"{"slot":1}"#))
        #expect(later.isSuccess, "outcome: \(later.outcome)")
        let statuses = execJSON(later.resultJSON)?["statuses"]?.arrayValue?.compactMap { $0.int64Value.map(Int32.init) } ?? []
        #expect(statuses.count == hostFunctionNames.count)
        #expect(statuses.allSatisfy { $0 == stale }, "\(statusNames(statuses))")

        // Forged handles: never issued by the runtime. (A uniformly random 64-bit value almost
        // never has slot bits in range; the random ones keep them out of range on purpose so the
        // check is deterministic. Guessing in-range values is guessedHandles' subject.)
        var forged: [UInt64] = [0x12345, 0xFFFF_FFFF_0000_0000, 0x9E37_79B9_7F4A_7C15, .max]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<4 { forged.append(UInt64.random(in: 1 ... .max, using: &rng) | (0x3FF_FFFF << 6)) }
        for value in forged {
            let handle = OpaquePointer(bitPattern: UInt(value))
            let s = probeHandle(probe, handle)
            #expect(s.allSatisfy { $0 == invalid }, "forged 0x\(String(value, radix: 16)): \(statusNames(s))")
        }

        // NULL: invalid argument everywhere, except log, which documents NULL as "no call".
        let null = probeHandle(probe, nil)
        for (name, s) in zip(hostFunctionNames, null) {
            #expect(s == (name == "log" ? HostStatus.ok.rawValue : invalidArgument), "\(name) with NULL: \(s)")
        }

        // NULL out pointers and malformed views on a live handle. (metadata with an absent key and
        // a NULL out pointer must still say INVALID_ARGUMENT: the out pointer is checked first.)
        let outs = await runtime.run(request("exec_handles", "null_outs", user: "erin", metadata: ["k": "v"]))
        #expect(outs.isSuccess, "outcome: \(outs.outcome)")
        let o = try #require(execJSON(outs.resultJSON)?.objectValue)
        for key in ["user_id", "session_id", "run_id", "metadata_present", "metadata_absent", "remaining_ms",
                    "call_tool", "call_tool_small", "emit_malformed", "heartbeat_malformed", "set_error_malformed",
                    "log_bad_level", "set_result_malformed"] {
            #expect(o[key]?.int64Value == Int64(invalidArgument),
                    "\(key): \(o[key].map { HostStatus(rawValue: Int32($0.int64Value ?? -1))?.name ?? "\($0)" } ?? "missing")")
        }

        // The runtime is unharmed.
        let after = await runtime.run(request("exec_handles", "keeper", user: "erin", input: #"{"slot":2}"#))
        #expect(after.isSuccess)
        let second = try #require(stored(2))
        let lookup = HandleTable.shared.lookup(UInt64(UInt(bitPattern: second)))
        #expect(isStale(lookup), "a returned call's handle is retired in the handle table")
    }

    @Test("emits and tool calls from a thread the agent leaked are dropped, counted, and reach nobody")
    func leakedThread() async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
        let leak = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_leak"), to: HandlesLeakFn.self)
        let log = EventLog(runtime, user: "gina")
        defer { log.cancel() }
        let events0 = runtime.counters.lateEvents.load(ordering: .relaxed)
        let tools0 = runtime.counters.lateToolCalls.load(ordering: .relaxed)

        let r = await runtime.run(request("exec_handles", "leaker", user: "gina", input: #"{"slot":5}"#))
        #expect(r.isSuccess, "outcome: \(r.outcome)")
        #expect(execJSON(r.resultJSON)?["leaked"]?.boolValue == true, "the late set_result did not replace the result")
        let done = await eventually(timeout: .seconds(10)) { leak(5, -1) == 1 }
        try #require(done, "the leaked thread never finished")
        let names = ["emit", "heartbeat", "call_tool", "set_result", "emit(agent_thinking)", "is_cancelled"]
        for (i, name) in names.enumerated() {
            #expect(leak(5, Int32(i)) == HostStatus.staleHandle.rawValue, "\(name) from the leaked thread: \(leak(5, Int32(i)))")
        }

        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentCompleted)
        #expect(events.contains { $0.customName == "before_return" }, "the emit before returning was delivered")
        #expect(!events.contains { $0.customName == "leaked_note" })
        #expect(!events.contains { $0.kind == .agentThinking })
        #expect(!events.contains { $0.kind == .toolExecuting })

        // EVENTS.md: "An event emitted after the run's terminal event (a leaked thread, an
        // abandoned call) is dropped and counted".
        let lateEvents = runtime.counters.lateEvents.load(ordering: .relaxed) - events0
        let lateTools = runtime.counters.lateToolCalls.load(ordering: .relaxed) - tools0
        #expect(lateEvents >= 2, "late emits from the leaked thread counted in lateEvents: +\(lateEvents)")
        #expect(lateTools >= 1, "late call_tool from the leaked thread counted in lateToolCalls: +\(lateTools)")
    }

    @Test("another user's handle: stale once its call returned; emits reach only the handle's own user")
    func crossUserHandle() async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
        let stored = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_stored"), to: HandlesStoredFn.self)
        let aliceLog = EventLog(runtime, user: "alice-x")
        let bobLog = EventLog(runtime, user: "bob-x")
        defer { aliceLog.cancel(); bobLog.cancel() }

        let previous = stored(3)
        async let aliceRun = runtime.run(request("exec_handles", "hold", user: "alice-x", input: #"{"slot":3}"#))
        let stored3 = await eventually { stored(3) != nil && stored(3) != previous }
        try #require(stored3, "alice's agent never stored its handle")
        // Bob's call runs while alice's is still running; it releases alice and waits until her
        // handle turns stale before it tries to emit on it.
        let bob = await runtime.run(request("exec_handles", "cross", user: "bob-x", input: #"{"slot":3}"#))
        let alice = await aliceRun
        #expect(alice.isSuccess, "outcome: \(alice.outcome)")
        #expect(bob.isSuccess, "outcome: \(bob.outcome)")
        let b = try #require(execJSON(bob.resultJSON))
        #expect(b["own"]?.int64Value == 0, "bob's emit on his own handle")
        #expect(b["live_check"]?.int64Value == 0, "alice's call was still running when bob started")
        #expect(b["became"]?.int64Value == Int64(HostStatus.staleHandle.rawValue))
        #expect(b["stale_emit"]?.int64Value == Int64(HostStatus.staleHandle.rawValue))
        #expect(b["stale_user_id"]?.int64Value == Int64(HostStatus.staleHandle.rawValue))

        let bobEvents = await bobLog.collectRun(bob.runID)
        let aliceEvents = await aliceLog.collectRun(alice.runID)
        #expect(bobEvents.allSatisfy { $0.userID == "bob-x" })
        #expect(aliceEvents.allSatisfy { $0.userID == "alice-x" })
        #expect(bobEvents.contains { $0.customName == "bob_own" })
        #expect(!bobEvents.contains { $0.customName == "alice_private" }, "bob's subscriber saw alice's event")
        #expect(!bobEvents.contains { $0.runID == alice.runID })
        #expect(aliceEvents.contains { $0.customName == "alice_private" })
        #expect(!aliceEvents.contains { $0.customName == "bob_own" || $0.customName == "from_bob_on_alice" })
        #expect(!bobEvents.contains { $0.customName == "from_bob_on_alice" })
        expectWellFormedRun(aliceEvents, runID: alice.runID, terminal: .agentCompleted)
        expectWellFormedRun(bobEvents, runID: bob.runID, terminal: .agentCompleted)
        #expect(runtime.isolationReport()["violations"]?.arrayValue?.isEmpty == true)
        // Each stream holds only its own user's run, with contiguous seqs, and neither run is
        // left in any user's in-flight table.
        #expect(aliceEvents.allSatisfy { $0.runID == alice.runID || $0.parentRunID == alice.runID })
        #expect(bobEvents.allSatisfy { $0.runID == bob.runID || $0.parentRunID == bob.runID })
        expectContiguous(aliceEvents)
        expectContiguous(bobEvents)
        let users = runtime.listUsers()
        #expect(Set(users.map(\.userID)).isSuperset(of: ["alice-x", "bob-x"]))
        #expect(users.allSatisfy { $0.inFlight == 0 }, "\(users)")
    }

    @Test("guessing handle values does not reach another user's live call")
    func guessedHandles() async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
        let stored = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_stored"), to: HandlesStoredFn.self)
        let release = unsafeBitCast(try ExecFixtures.symbol(path, "exec_handles_release"),
                                    to: (@convention(c) (Int32) -> Void).self)
        let victimLog = EventLog(runtime, user: "victim-user")
        defer { victimLog.cancel() }

        // The victim's call stays live while the guesser runs.
        let previous = stored(6)
        async let victimRun = runtime.run(request("exec_handles", "hold", user: "victim-user", input: #"{"slot":6}"#))
        let live = await eventually { stored(6) != nil && stored(6) != previous }
        try #require(live, "the victim's agent never started")
        let scan = await runtime.run(request("exec_handles", "forge_scan", user: "guessing-user"))
        release(6)
        let victim = await victimRun
        #expect(victim.isSuccess, "outcome: \(victim.outcome)")
        #expect(scan.isSuccess, "outcome: \(scan.outcome)")
        let o = try #require(execJSON(scan.resultJSON))
        #expect(o["foreign_live"]?.int64Value == 0,
                "a plugin guessed a live handle of another user (read user id \"\(o["user"]?.stringValue ?? "")\") in \(o["probes"]?.int64Value ?? 0) probes: handle tokens are predictable and INVALID vs STALE answers reveal each slot's generation")
        let events = await victimLog.collectRun(victim.runID)
        #expect(events.allSatisfy { $0.userID == "victim-user" })
    }

    // MARK: - Results and emits

    @Test("invalid, oversized, non-UTF-8, missing and doubly set results", arguments: [Isolation.inProcess, .process])
    func results(_ isolation: Isolation) async throws {
        let path = try await ExecFixtures.fixture("exec_results")
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: isolation))
        let log = EventLog(runtime, user: "hank")
        defer { log.cancel() }

        func run(_ mode: Int) async -> (RunResult, JSONValue?) {
            let r = await runtime.run(request("exec_results", "result", user: "hank", input: #"{"mode":\#(mode)}"#))
            let events = await log.collectRun(r.runID, settle: .milliseconds(10))
            let terminal: Event.Kind = r.isSuccess ? .agentCompleted : .agentFailed
            expectWellFormedRun(events, runID: r.runID, terminal: terminal)
            let status = events.first { $0.runID == r.runID && $0.customName == "set_status" }?.data["value"]
            return (r, status)
        }

        let (invalidJSON, s1) = await run(1)
        #expect(invalidJSON.error?.code == .invalidOutput, "outcome: \(invalidJSON.outcome)")
        #expect(invalidJSON.error?.message.contains("JSON") == true, "\(invalidJSON.error?.message ?? "")")
        #expect(s1?["first"]?.int64Value == Int64(HostStatus.invalidJSON.rawValue))

        let (huge, s2) = await run(2)
        #expect(huge.error?.code == .invalidOutput, "outcome: \(String(describing: huge.error))")
        #expect(huge.error?.message.contains("104857600") == true, "names the size: \(huge.error?.message ?? "")")
        #expect(s2?["first"]?.int64Value == Int64(HostStatus.tooLarge.rawValue))

        let (badUTF8, s3) = await run(3)
        #expect(badUTF8.error?.code == .invalidOutput, "outcome: \(badUTF8.outcome)")
        #expect(badUTF8.error?.message.contains("UTF-8") == true, "\(badUTF8.error?.message ?? "")")
        #expect(s3?["first"]?.int64Value != 0)

        let (missing, _) = await run(4)
        #expect(missing.error?.code == .invalidOutput, "outcome: \(missing.outcome)")
        #expect(missing.error?.message.contains("without setting a result") == true, "\(missing.error?.message ?? "")")

        let (twice, s5) = await run(5)
        #expect(twice.isSuccess, "outcome: \(twice.outcome)")
        #expect(execJSON(twice.resultJSON)?["n"]?.int64Value == 1, "the first result stands")
        #expect(s5?["first"]?.int64Value == 0)
        #expect(s5?["second"]?.int64Value == Int64(HostStatus.alreadySet.rawValue))

        // The runtime survived all of it.
        let (fine, _) = await run(6)
        #expect(fine.isSuccess, "outcome: \(fine.outcome)")
        #expect(runtime.stats(plugin: "exec_results", agent: "result")?.failures[.invalidOutput] == 4)
    }

    @Test("emit refuses reserved types and invalid JSON", arguments: [Isolation.inProcess, .process])
    func emitRules(_ isolation: Isolation) async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: isolation))
        let log = EventLog(runtime, user: "ivy")
        defer { log.cancel() }
        let r = await runtime.run(request("exec_handles", "emits", user: "ivy"))
        #expect(r.isSuccess, "outcome: \(r.outcome)")
        let o = try #require(execJSON(r.resultJSON))
        let reserved = o["reserved"]?.arrayValue ?? []
        #expect(reserved.count == 8)
        #expect(reserved.allSatisfy { $0.int64Value == Int64(HostStatus.reservedType.rawValue) }, "\(reserved)")
        #expect(o["invalid_json"]?.int64Value == Int64(HostStatus.invalidJSON.rawValue))
        #expect(o["not_json_text"]?.int64Value == Int64(HostStatus.invalidJSON.rawValue))
        #expect(o["valid"]?.int64Value == 0)
        #expect(o["thinking"]?.int64Value == 0)

        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentCompleted)
        let kinds = events.filter { $0.runID == r.runID }.map(\.kind)
        #expect(kinds == [.agentStarted, .custom, .agentThinking, .agentCompleted], "\(kinds)")
        #expect(events.first { $0.kind == .custom }?.data["value"]?["fine"]?.int64Value == 1)
        #expect(!events.contains { $0.data["value"]?["forged"] != nil || $0.data["forged"] != nil })
    }

    // MARK: - Tools

    @Test("a C agent calls JSON, typed, unknown, badly-argued and re-entrant tools through the dispatcher", arguments: [Isolation.inProcess, .process])
    func toolsFromC(_ isolation: Isolation) async throws {
        let path = try await ExecFixtures.fixture("exec_tools")
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: isolation))
        let addCalls = unsafeBitCast(try ExecFixtures.symbol(path, "exec_tools_add_calls"), to: ToolsAddCallsFn.self)
        let log = EventLog(runtime, user: "jack")
        defer { log.cancel() }
        let adds0 = addCalls()

        let r = await runtime.run(request("exec_tools", "use_tools", user: "jack"))
        #expect(r.isSuccess, "outcome: \(r.outcome)")
        let o = try #require(execJSON(r.resultJSON))
        #expect(o["json"]?["s"]?.int64Value == 0)
        #expect(o["json"]?["e"]?.int64Value == 0)
        #expect(o["json"]?["c"] == execJSON(#"{"got":{"x":1,"y":"two"}}"#))
        #expect(o["add"]?["s"]?.int64Value == 0)
        #expect(o["add"]?["c"]?.int64Value == 42)
        #expect(o["mul"]?["s"]?.int64Value == 0)
        #expect(o["mul"]?["c"]?.doubleValue == 6.0)
        #expect(o["classify"]?["s"]?.int64Value == 0)
        #expect(o["classify"]?["c"]?.stringValue == "short")
        #expect(o["unknown"]?["s"]?.int64Value == Int64(HostStatus.notFound.rawValue))
        #expect(o["bad_args"]?["s"]?.int64Value == Int64(HostStatus.badArguments.rawValue))
        if isolation == .inProcess {   // the counter lives in the worker's copy of the library otherwise
            #expect(o["add_calls_during_bad_args"]?.int64Value == 0, "bad arguments never reach the C function")
        }
        #expect(o["reentrant"]?["s"]?.int64Value == 0)
        #expect(o["reentrant"]?["c"]?["inner_status"]?.int64Value == 0)
        #expect(o["reentrant"]?["c"]?["inner"]?.int64Value == 42)
        if isolation == .inProcess {
            #expect(addCalls() - adds0 == 2, "add ran for the direct call and the re-entrant one only")
        }

        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentCompleted)
        expectContiguous(events)
        let terminalIndex = try #require(events.firstIndex { $0.runID == r.runID && $0.kind == .agentCompleted })
        var opened: [String: Int] = [:]
        var closed: [String: Int] = [:]
        var executingTools: [String] = []
        for (i, e) in events.enumerated() where e.kind == .toolExecuting || e.kind == .toolCompleted {
            let id = try #require(e.data["tool_call_id"]?.stringValue)
            if e.kind == .toolExecuting {
                #expect(opened[id] == nil, "tool_call_id \(id) executing twice")
                opened[id] = i
                executingTools.append(e.data["tool"]?.stringValue ?? "?")
            } else {
                #expect(opened[id] != nil, "tool_completed \(id) without tool_executing before it")
                #expect(closed[id] == nil, "tool_completed \(id) twice")
                closed[id] = i
            }
            #expect(i < terminalIndex, "\(e.kind.rawValue) after agent_completed")
        }
        #expect(Set(opened.keys) == Set(closed.keys), "every tool_executing has its tool_completed")
        #expect(executingTools == ["exec_tools.echo_args", "exec_tools.add", "exec_tools.mul", "exec_tools.classify",
                                   "exec_tools.no_such_tool", "exec_tools.add", "exec_tools.outer", "exec_tools.add"],
                "\(executingTools)")
        // The re-entrant pair nests inside the outer one.
        let execs = events.enumerated().filter { $0.element.kind == .toolExecuting }
        if execs.count == 8 {
            let outerID = execs[6].element.data["tool_call_id"]?.stringValue ?? ""
            let innerID = execs[7].element.data["tool_call_id"]?.stringValue ?? ""
            if let oo = opened[outerID], let oc = closed[outerID], let io = opened[innerID], let ic = closed[innerID] {
                #expect(oo < io && io < ic && ic < oc, "outer \(oo)…\(oc), inner \(io)…\(ic)")
            } else {
                Issue.record("re-entrant tool events missing")
            }
            #expect(execs[7].element.runID == outerID, "the inner tool_executing belongs to the outer tool call's run")
            #expect(execs[7].element.parentRunID == r.runID)
        }
        let codes = events.filter { $0.kind == .toolCompleted }.compactMap { $0.data["error"]?["code"]?.stringValue }
        #expect(codes.contains("not_found"))
        #expect(codes.contains("bad_arguments"))
    }

    // MARK: - The Swift plugin

    @Test("the Swift planner plugin loads and its agent counts words with its tools")
    func swiftPlannerPlugin() async throws {
        let path = try #require(BuildProducts.swiftPlannerPlugin,
                                "libSwiftPlannerPlugin.so not found next to the test bundle; run `swift build` first (\(BuildProducts.searched))")
        let runtime = makeExecRuntime()
        let plugin: NativePlugin
        do { plugin = try runtime.load(path: path) } catch {
            // Under --sanitize=thread SwiftPM instruments the plugin with TSan entry points (e.g.
            // __tsan_external_write) that the TSan-linked test executable does not export, so
            // dlopen refuses it: a toolchain limitation, not a runtime bug. Plain builds test it.
            if error.message.contains("undefined symbol: __tsan_"), runningUnderThreadSanitizer {
                withKnownIssue("TSan-instrumented Swift plugin cannot be dlopened into the TSan test executable") {
                    throw error
                }
                return
            }
            throw error
        }
        #expect(plugin.name == "swiftplanner")
        let log = EventLog(runtime, user: "kim")
        defer { log.cancel() }
        let r = await runtime.run(request("swiftplanner", "planner", user: "kim", input: #"{"text":"one two three"}"#))
        #expect(r.isSuccess, "outcome: \(r.outcome)")
        let o = try #require(execJSON(r.resultJSON), "result: \(r.resultJSON ?? "nil")")
        #expect(o["count"]?.int64Value == 3, "result: \(r.resultJSON ?? "")")
        #expect(o["reversed"]?.stringValue == "three two one")
        #expect(o["user"]?.stringValue == "kim")
        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentCompleted)
        #expect(events.filter { $0.kind == .toolCompleted }.count == 2)
    }

    // MARK: - Isolation

    @Test("200 users x 5 runs of a C echo agent at once: each subscriber sees only its own events",
          arguments: [Isolation.inProcess, .process])
    func manyUsersIsolation(_ isolation: Isolation) async throws {
        let path = try await ExecFixtures.fixture("exec_tools")
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        _ = try runtime.loadPlugin(path: path, options: PluginLoadOptions(isolation: isolation))
        let users = (1...200).map { "iso-user-\($0)" }
        let runs = 5
        let logs = Dictionary(uniqueKeysWithValues: users.map { ($0, EventLog(runtime, user: $0)) })
        defer { logs.values.forEach { $0.cancel() } }

        let failures = await withTaskGroup(of: [String].self) { group -> [String] in
            for user in users {
                group.addTask {
                    var bad: [String] = []
                    for i in 0..<runs {
                        let input = #"{"user":"\#(user)","i":\#(i)}"#
                        let r = await runtime.run(request("exec_tools", "echo", user: user, input: input))
                        if r.resultJSON != input { bad.append("\(user) run \(i): \(r.outcome)") }
                    }
                    return bad
                }
            }
            var all: [String] = []
            for await b in group { all += b }
            return all
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")

        for user in users {
            let log = logs[user]!
            _ = await log.collect { es in es.filter { $0.kind == .agentCompleted }.count >= runs }
        }
        try await Task.sleep(for: .milliseconds(100))
        var problems: [String] = []
        for user in users {
            let events = logs[user]!.drain()
            let foreign = events.filter { $0.userID != user }
            if !foreign.isEmpty { problems.append("\(user) saw \(foreign.count) foreign events") }
            let completed = events.filter { $0.kind == .agentCompleted }.count
            let started = events.filter { $0.kind == .agentStarted }.count
            if completed != runs || started != runs { problems.append("\(user): \(started) started, \(completed) completed") }
            if events.contains(where: { $0.dataJSON.contains("iso-user-") && !$0.dataJSON.contains("\"\(user)\"") }) {
                problems.append("\(user) saw another user's data")
            }
        }
        // Every run belongs to exactly one user's stream, and each stream's seqs are 1, 2, 3 ...
        var ownerOfRun: [String: String] = [:]
        for user in users {
            let events = logs[user]!.drain()
            if events.map(\.seq) != (0..<events.count).map({ UInt64($0 + 1) }) {
                problems.append("\(user)'s seqs are not contiguous from 1: \(events.map(\.seq).prefix(12))")
            }
            for e in events where !e.runID.isEmpty {
                if let other = ownerOfRun[e.runID], other != user { problems.append("run \(e.runID) in \(other)'s and \(user)'s streams") }
                ownerOfRun[e.runID] = user
            }
        }
        #expect(ownerOfRun.count == users.count * runs)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
        let listed = runtime.listUsers()
        #expect(listed.count == users.count)
        #expect(listed.allSatisfy { $0.inFlight == 0 }, "runs left in flight: \(listed.filter { $0.inFlight > 0 }.prefix(5))")
        let report = runtime.isolationReport()
        #expect(report["violations"]?.arrayValue?.isEmpty == true, "\(report["violations"]?.serialized() ?? "")")
        #expect(report["active_users"]?.int64Value == Int64(users.count))
    }
}

/// True when this process runs under ThreadSanitizer.
private var runningUnderThreadSanitizer: Bool { dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil }

private func isStale(_ lookup: HandleTable.Lookup) -> Bool {
    if case .stale = lookup { true } else { false }
}
