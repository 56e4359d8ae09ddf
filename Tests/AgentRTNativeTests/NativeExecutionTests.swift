import AgentRTCore
import AgentRTTesting
import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// The real native path end to end: C fixture plugins from Fixtures/exec (compiled by the test
// with the plugin author's command line), loaded with Runtime.load(path:), run through every
// guard on the runtime's worker threads. Deadlines, grace periods and heartbeat timeouts are on a
// manual clock the tests advance; the C agents only wait for conditions (the test's release,
// cancellation). No check measures real time.

private typealias GuardsProbeFn = @convention(c) (Int32, Int32) -> Int32
private typealias HandlesProbeFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, Int32) -> Int32
private typealias HandlesStoredFn = @convention(c) (Int32) -> OpaquePointer?
private typealias HandlesLeakFn = @convention(c) (Int32, Int32) -> Int32
private typealias ToolsAddCallsFn = @convention(c) () -> Int32

private typealias GuardsReleaseFn = @convention(c) (Int32) -> Void

/// What exec_guards_probe reports (see exec_guards.c).
private enum GuardsProbe: Int32 {
    case entered = 0, returned = 1, lateResult = 2, lateEmit = 3, lateCancel = 4, sleeping = 5, beats = 6, silent = 7
}

private func guardsProbe(_ path: String) throws -> (Int32, GuardsProbe) -> Int32 {
    let fn = unsafeBitCast(try ExecFixtures.symbol(path, "exec_guards_probe"), to: GuardsProbeFn.self)
    return { slot, what in fn(slot, what.rawValue) }
}

/// exec_guards_release(slot): lets the agent of that slot return.
private func guardsRelease(_ path: String) throws -> (Int32) -> Void {
    let fn = unsafeBitCast(try ExecFixtures.symbol(path, "exec_guards_release"), to: GuardsReleaseFn.self)
    return { slot in fn(slot) }
}

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

private func request(_ plugin: String, _ agent: String, user: String, input: String = "{}",
                     timeout: Duration? = nil, heartbeat: Duration? = nil,
                     metadata: [String: String] = [:]) -> RunRequest {
    RunRequest(plugin: plugin, agent: agent, userID: user, input: input, timeout: timeout,
               heartbeatTimeout: heartbeat, metadata: metadata)
}

/// Checks the envelope rules for one run in a user's stream: agent_started first, exactly one
/// terminal event, and nothing of the run (or of its tool calls) after that terminal event.
private func expectWellFormedRun(_ events: [Event], runID: String, terminal: Event.Kind,
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
private func expectContiguous(_ events: [Event], sourceLocation: SourceLocation = #_sourceLocation) {
    let seqs = events.map(\.seq)
    for (a, b) in zip(seqs, seqs.dropFirst()) where b != a + 1 {
        Issue.record("seq jumps from \(a) to \(b)", sourceLocation: sourceLocation)
        return
    }
}

@Suite("NativeExecution", .serialized)
struct NativeExecutionTests {
    // MARK: - Timeouts

    @Test("a C agent that ignores cancellation is abandoned at deadline + grace; its permit stays held until it returns")
    func stubbornAgentIsAbandoned() async throws {
        let path = try await ExecFixtures.fixture("exec_guards")
        let clock = ManualClock()
        let runtime = makeExecRuntime(clock: clock) {
            $0.perUserLimit = 1
            $0.grace = .milliseconds(100)
        }
        try runtime.load(path: path)
        let probe = try guardsProbe(path)
        let release = try guardsRelease(path)
        let log = EventLog(runtime, user: "alice")
        defer { log.cancel() }
        let lateResults0 = runtime.counters.lateResults.load(ordering: .relaxed)
        let lateEvents0 = runtime.counters.lateEvents.load(ordering: .relaxed)
        let slot: Int32 = 1

        let outcome = Locked<RunResult?>(nil)
        runtime.runDetached(request("exec_guards", "sleeper", user: "alice", input: #"{"slot":1}"#,
                                    timeout: .milliseconds(100))) { r in outcome.withLock { $0 = r } }
        try #require(await eventually { probe(slot, .entered) == 1 }, "the sleeper never started")
        // The deadline cancels it (the C code never looks); the grace period runs on the clock.
        runtime.advance(clock, by: .milliseconds(100))
        runtime.advance(clock, by: .milliseconds(100) - .nanoseconds(1))
        #expect(runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 0, "abandoned before deadline + grace")
        #expect(outcome.withLock { $0 } == nil)
        runtime.advance(clock, by: .nanoseconds(1))
        try #require(await eventually { outcome.withLock { $0 } != nil }, "no outcome at deadline + grace")
        let hung = try #require(outcome.withLock { $0 })
        #expect(hung.error?.code == .timeout, "outcome: \(hung.outcome)")
        #expect(hung.error?.message.contains("abandoned") == true, "message: \(hung.error?.message ?? "")")
        #expect(hung.duration == .milliseconds(200))
        #expect(probe(slot, .entered) == 1)
        #expect(probe(slot, .returned) == 0, "the C function must still be running when the caller gets timeout")

        // The abandoned call still holds alice's only admission permit.
        let second = await runtime.run(request("exec_guards", "quick", user: "alice"))
        #expect(second.error?.code == .overloaded, "outcome: \(second.outcome)")
        #expect(probe(slot, .returned) == 0, "the overloaded refusal must happen while the zombie still runs")
        #expect(runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 1, "the abandoned call is counted as a zombie")
        // Another user is not affected.
        let bob = await runtime.run(request("exec_guards", "quick", user: "bob"))
        #expect(bob.isSuccess, "outcome: \(bob.outcome)")

        // When the C function finally returns, the permit is released.
        release(slot)
        try #require(await eventually { probe(slot, .returned) == 1 }, "the sleeper never returned")
        let released = await eventually { runtime.stats(user: "alice")?.inFlight == 0 }
        #expect(released, "alice's in-flight count drops once the zombie returned")
        let third = await runtime.run(request("exec_guards", "quick", user: "alice"))
        #expect(third.isSuccess, "after the zombie returned alice is admitted again: \(third.outcome)")
        #expect(runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 0)
        #expect(runtime.counters.zombiesReturned.load(ordering: .relaxed) == 1)

        // Its late set_result and emit were discarded and counted.
        #expect(probe(slot, .lateResult) == HostStatus.staleHandle.rawValue)
        #expect(probe(slot, .lateEmit) == HostStatus.staleHandle.rawValue)
        #expect(probe(slot, .lateCancel) == HostStatus.staleHandle.rawValue)
        #expect(runtime.counters.lateResults.load(ordering: .relaxed) > lateResults0)
        #expect(runtime.counters.lateEvents.load(ordering: .relaxed) > lateEvents0)

        let events = await log.collectRun(hung.runID)
        expectWellFormedRun(events, runID: hung.runID, terminal: .agentFailed)
        expectContiguous(events)
        #expect(!events.contains { $0.customName == "late_note" }, "a late emit reached a subscriber")
        let failed = events.first { $0.runID == hung.runID && $0.kind == .agentFailed }
        #expect(failed?.data["error"]?["code"]?.stringValue == "timeout")
    }

    @Test("a cooperative C agent polling is_cancelled returns at the deadline with timeout")
    func cooperativeAgentStopsAtDeadline() async throws {
        let path = try await ExecFixtures.fixture("exec_guards")
        let clock = ManualClock()
        let runtime = makeExecRuntime(clock: clock) { $0.grace = .seconds(3) }
        try runtime.load(path: path)
        let probe = try guardsProbe(path)
        let log = EventLog(runtime, user: "carol")
        defer { log.cancel() }
        async let run = runtime.run(request("exec_guards", "cooperative", user: "carol", input: #"{"slot":2}"#,
                                            timeout: .milliseconds(100)))
        try #require(await eventually { probe(2, .entered) == 1 }, "the agent never started")
        runtime.advance(clock, by: .milliseconds(100))
        let r = await run
        #expect(r.error?.code == .timeout, "outcome: \(r.outcome)")
        // The clock stopped at the deadline: it cannot have been abandoned, it stopped by itself.
        #expect(r.error?.message.contains("abandoned") == false, "\(r.error?.message ?? "")")
        #expect(r.duration == .milliseconds(100))
        #expect(probe(2, .returned) == 1)
        #expect(runtime.counters.zombiesReturned.load(ordering: .relaxed) == 0)
        #expect(runtime.stats(plugin: "exec_guards", agent: "cooperative")?.zombies == 0)
        let events = await log.collectRun(r.runID)
        expectWellFormedRun(events, runID: r.runID, terminal: .agentFailed)
    }

    // MARK: - Heartbeats

    @Test("a heartbeating C agent survives; one that goes silent gets no_heartbeat with its last details")
    func heartbeatDeathDetection() async throws {
        let path = try await ExecFixtures.fixture("exec_guards")
        let clock = ManualClock()
        let runtime = makeExecRuntime(clock: clock) { $0.grace = .milliseconds(200) }
        try runtime.load(path: path)
        let probe = try guardsProbe(path)
        let release = try guardsRelease(path)
        let log = EventLog(runtime, user: "dave")
        defer { log.cancel() }

        // Alive: the clock moves six heartbeat timeouts (9 x 100 ms); before each step the agent
        // beats twice after the previous one, so its latest beat is never 150 ms old.
        async let aliveRun = runtime.run(request("exec_guards", "heartbeat", user: "dave",
                                                 input: #"{"slot":3,"interval_ms":2}"#,
                                                 timeout: .seconds(10), heartbeat: .milliseconds(150)))
        try #require(await eventually { probe(3, .entered) == 1 }, "the agent never started")
        for step in 0..<9 {
            let seen = probe(3, .beats)
            try #require(await eventually { probe(3, .beats) >= seen + 2 }, "step \(step): the agent stopped beating")
            runtime.advance(clock, by: .milliseconds(100))
        }
        release(3)
        let alive = await aliveRun
        #expect(alive.isSuccess, "outcome: \(alive.outcome)")
        let aliveEvents = await log.collectRun(alive.runID)
        expectWellFormedRun(aliveEvents, runID: alive.runID, terminal: .agentCompleted)
        let beats = aliveEvents.filter { $0.runID == alive.runID && $0.kind == .agentThinking }
        #expect(beats.count >= 18, "heartbeats publish agent_thinking status notes: \(beats.count)")
        #expect(beats.first?.data["kind"]?.stringValue == "status")

        // Silent: beats three times, says its last words, then only polls is_cancelled.
        async let silentRun = runtime.run(request("exec_guards", "heartbeat", user: "dave",
                                                  input: #"{"slot":4,"interval_ms":2,"silent_after":3}"#,
                                                  timeout: .seconds(10), heartbeat: .milliseconds(150)))
        try #require(await eventually { probe(4, .silent) == 1 }, "the agent never went silent")
        runtime.advance(clock, by: .milliseconds(150))
        let silent = await silentRun
        #expect(silent.error?.code == .noHeartbeat, "outcome: \(silent.outcome)")
        #expect(silent.error?.message.contains("last words before silence") == true,
                "the message carries the last heartbeat's details: \(silent.error?.message ?? "")")
        #expect(silent.duration == .milliseconds(150), "declared dead 150 ms of clock after its last words")
        let events = await log.collectRun(silent.runID)
        expectWellFormedRun(events, runID: silent.runID, terminal: .agentFailed)
        let failed = events.first { $0.runID == silent.runID && $0.kind == .agentFailed }
        #expect(failed?.data["error"]?["code"]?.stringValue == "no_heartbeat")
    }

    // MARK: - Hung calls

    @Test("2x cores hung C calls of different users do not stop another user's call or the timers")
    func hungCallsDoNotStarveOthers() async throws {
        let path = try await ExecFixtures.fixture("exec_guards")
        let clock = ManualClock()
        let runtime = makeExecRuntime(clock: clock) { $0.grace = .milliseconds(200) }
        try runtime.load(path: path)
        let probe = try guardsProbe(path)
        let release = try guardsRelease(path)
        let hungCount = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)
        let slots = (0..<hungCount).map { Int32(20 + $0) }
        let outcomes = Locked<[Int32: RunResult]>([:])
        for slot in slots {
            runtime.runDetached(request("exec_guards", "sleeper", user: "hung-\(slot)", input: #"{"slot":\#(slot)}"#,
                                        timeout: .milliseconds(300))) { r in outcomes.withLock { $0[slot] = r } }
        }
        // Every hung call is inside its C function.
        try #require(await eventually { slots.allSatisfy { probe($0, .entered) == 1 } }, "the hung calls all started")

        // A further user's quick call still goes through.
        let quick = await runtime.run(request("exec_guards", "quick", user: "fifth-user"))
        #expect(quick.isSuccess, "outcome: \(quick.outcome)")
        // The timers still fire: at the deadline every hung call is cancelled (and ignores it) ...
        runtime.advance(clock, by: .milliseconds(300))
        #expect(outcomes.withLock { $0.isEmpty }, "an outcome before deadline + grace")
        // ... and at deadline + grace each is abandoned, while its C function still runs.
        runtime.advance(clock, by: .milliseconds(200))
        try #require(await eventually { outcomes.withLock { $0.count } == hungCount }, "not every hung call got its outcome")
        for (slot, r) in outcomes.withLock({ $0 }) {
            #expect(r.error?.code == .timeout, "slot \(slot): \(r.outcome)")
            #expect(r.error?.message.contains("abandoned") == true, "slot \(slot): \(r.error?.message ?? "")")
        }
        #expect(slots.allSatisfy { probe($0, .returned) == 0 }, "all timed out before any C call returned")
        for slot in slots { release(slot) }
        let drained = await eventually { slots.allSatisfy { probe($0, .returned) == 1 } }
        #expect(drained)
        let zombiesGone = await eventually { runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 0 }
        #expect(zombiesGone)
    }

    @Test("an agent with more abandoned calls than the threshold is quarantined until they return")
    func quarantine() async throws {
        let path = try await ExecFixtures.fixture("exec_guards")
        let clock = ManualClock()
        let runtime = makeExecRuntime(clock: clock) {
            $0.quarantineThreshold = 1
            $0.grace = .milliseconds(100)
        }
        try runtime.load(path: path)
        let probe = try guardsProbe(path)
        let release = try guardsRelease(path)
        let slots: [Int32] = [10, 11]
        let outcomes = Locked<[RunResult]>([])
        for (i, slot) in slots.enumerated() {
            runtime.runDetached(request("exec_guards", "sleeper", user: "q-\(i + 1)", input: #"{"slot":\#(slot)}"#,
                                        timeout: .milliseconds(100))) { r in outcomes.withLock { $0.append(r) } }
        }
        try #require(await eventually { slots.allSatisfy { probe($0, .entered) == 1 } }, "the sleepers never started")
        runtime.advance(clock, by: .milliseconds(100))
        runtime.advance(clock, by: .milliseconds(100))
        try #require(await eventually { outcomes.withLock { $0.count } == 2 })
        let both = outcomes.withLock { $0 }
        #expect(both.allSatisfy { $0.error?.code == .timeout }, "outcomes: \(both.map(\.outcome))")
        #expect(runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 2)
        #expect(slots.allSatisfy { probe($0, .returned) == 0 })

        let refused = await runtime.run(request("exec_guards", "sleeper", user: "q-3", input: #"{"ms":1}"#))
        #expect(refused.error?.code == .quarantined, "outcome: \(refused.outcome)")
        #expect(refused.error?.message.contains("exec_guards.sleeper") == true)
        #expect(slots.allSatisfy { probe($0, .returned) == 0 }, "refused while both zombies still run")
        // Quarantine is per agent: the plugin's other agents still run.
        let other = await runtime.run(request("exec_guards", "quick", user: "q-3"))
        #expect(other.isSuccess, "outcome: \(other.outcome)")

        for slot in slots { release(slot) }
        let drained = await eventually {
            slots.allSatisfy { probe($0, .returned) == 1 }
                && runtime.stats(plugin: "exec_guards", agent: "sleeper")?.zombies == 0
        }
        try #require(drained, "the zombies never drained")
        let accepted = await runtime.run(request("exec_guards", "sleeper", user: "q-3", input: #"{"ms":1}"#))
        #expect(accepted.isSuccess, "accepted again once the zombies returned: \(accepted.outcome)")
    }

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

    @Test("invalid, oversized, non-UTF-8, missing and doubly set results")
    func results() async throws {
        let path = try await ExecFixtures.fixture("exec_results")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
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

    @Test("emit refuses reserved types and invalid JSON")
    func emitRules() async throws {
        let path = try await ExecFixtures.fixture("exec_handles")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
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

    @Test("a C agent calls JSON, typed, unknown, badly-argued and re-entrant tools through the dispatcher")
    func toolsFromC() async throws {
        let path = try await ExecFixtures.fixture("exec_tools")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
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
        #expect(o["add_calls_during_bad_args"]?.int64Value == 0, "bad arguments never reach the C function")
        #expect(o["reentrant"]?["s"]?.int64Value == 0)
        #expect(o["reentrant"]?["c"]?["inner_status"]?.int64Value == 0)
        #expect(o["reentrant"]?["c"]?["inner"]?.int64Value == 42)
        #expect(addCalls() - adds0 == 2, "add ran for the direct call and the re-entrant one only")

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

    @Test("200 users x 5 runs of a C echo agent at once: each subscriber sees only its own events")
    func manyUsersIsolation() async throws {
        let path = try await ExecFixtures.fixture("exec_tools")
        let runtime = makeExecRuntime()
        try runtime.load(path: path)
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
        #expect(report["active_users"]?.int64Value == Int64(users.count))
    }
}

/// True when this process runs under ThreadSanitizer.
private var runningUnderThreadSanitizer: Bool { dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil }

private func isStale(_ lookup: HandleTable.Lookup) -> Bool {
    if case .stale = lookup { true } else { false }
}
