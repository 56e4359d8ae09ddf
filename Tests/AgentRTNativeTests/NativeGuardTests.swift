import AgentRTCore
import AgentRTTesting
import Foundation
import Testing

// The runtime's timing guards on real C agents (Fixtures/exec/exec_guards.c): deadlines, grace
// periods and abandonment, heartbeat death, hung calls and quarantine. Every deadline is on a
// manual clock the test advances; the C agents only wait for conditions (the test's release of
// their slot, cancellation). No check measures real time.

private typealias GuardsProbeFn = @convention(c) (Int32, Int32) -> Int32
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

@Suite("Native guards", .serialized)
struct NativeGuardTests {
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
                                                 input: #"{"slot":3,"interval_ms":10}"#,
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
}
