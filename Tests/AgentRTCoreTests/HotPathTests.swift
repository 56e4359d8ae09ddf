import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting
#if canImport(Glibc)
import Glibc
#endif

/// What the fast paths of issue 14 must keep: every call and its context freed whatever the
/// outcome (a context holds its call strongly until it ends), in-flight runs found and removed
/// exactly (an indexed array, not a dictionary), run ids unique and inline (at most 15 bytes),
/// and event timestamps taken from the monotonic reading still on the wall clock.
@Suite("Hot path invariants")
struct HotPathTests {
    /// Weak references to what a call leaves behind.
    final class Left: @unchecked Sendable {
        private let lock = Lock()
        private var calls: [WeakCall] = []
        struct WeakCall { weak var call: AgentCall?; weak var context: UserExecutionContext? }
        func add(_ c: AgentCall) { lock.withLock { calls.append(WeakCall(call: c, context: c.context)) } }
        var seen: Int { lock.withLock { calls.count } }
        /// Calls or contexts still alive.
        var alive: Int { lock.withLock { calls.filter { $0.call != nil || $0.context != nil }.count } }
    }

    @Test("every call and its context are freed once the call ended, whatever the outcome and executor",
          arguments: [false, true])
    func callsAreFreed(onCallerThread: Bool) async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(1) }
        defer { rt.shutdown() }
        let left = Left()
        try CoreTestKit.agent(rt, "ok") { call, _ in left.add(call); return call.setResult("1") }
        try CoreTestKit.agent(rt, "fails") { call, _ in left.add(call); _ = call.setError("no"); return .agentError }
        let release = TestGate()
        try CoreTestKit.agent(rt, "waits") { call, _ in
            left.add(call)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        try CoreTestKit.agent(rt, "ignores") { call, _ in
            left.add(call)
            release.wait()   // ignores cancellation: abandoned at deadline + grace, returns later
            return .ok
        }
        func run(_ agent: String, timeout: Duration? = nil) -> Background<RunResult> {
            Background { rt.runBlocking(RunRequest(plugin: "t", agent: agent, userID: "freed", timeout: timeout,
                                                   onCallerThread: onCallerThread)) }
        }
        #expect(await run("ok").value()?.isSuccess == true)
        #expect(await run("fails").value()?.error?.code == .agentError)
        // Cancelled by the caller while it runs.
        let cancelled = run("waits")
        #expect(await CoreTestKit.eventually { left.seen == 3 })
        let runID = try #require(rt.users.existing("freed")?.inFlightRunIDs.first)
        #expect(rt.cancel(runID: runID, userID: "freed"))
        #expect(await cancelled.value()?.error?.code == .cancelled)
        // Deadline passed while it runs (cooperative).
        let late = run("waits", timeout: .seconds(5))
        #expect(await CoreTestKit.eventually { left.seen == 4 })
        #expect(rt.advance(clock, by: .seconds(5)))
        #expect(await late.value()?.error?.code == .timeout)
        // Abandoned: the caller gets `timeout` at deadline + grace, the code returns afterwards.
        let zombie = run("ignores", timeout: .seconds(5))
        #expect(await CoreTestKit.eventually { left.seen == 5 })
        #expect(rt.advance(clock, by: .seconds(5)))
        #expect(rt.advance(clock, by: .seconds(1)))
        release.release()
        #expect(await zombie.value()?.error?.code == .timeout)
        #expect(await CoreTestKit.eventually { rt.users.existing("freed")?.inFlightCount == 0 })
        // Nothing keeps a finished call alive: no cycle through its context.
        #expect(await CoreTestKit.eventually { left.alive == 0 }, "\(left.alive) of \(left.seen) calls still alive")
    }

    @Test("two runs with the same caller-given id: each is found, cancelled and removed on its own")
    func inFlightRunsWithOneID() async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let entered = Shared<Int>(0)
        try CoreTestKit.agent(rt, "waits") { call, _ in
            entered.add(1)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        let a = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "waits", userID: "dup", runID: "same-id")) }
        let b = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "waits", userID: "dup", runID: "same-id")) }
        #expect(await CoreTestKit.eventually { entered.load() == 2 })
        #expect(rt.users.existing("dup")?.inFlightRunIDs == ["same-id", "same-id"])
        #expect(!rt.cancel(runID: "same-id", userID: "another-user"))
        #expect(rt.cancel(runID: "same-id", userID: "dup"))   // one of them
        #expect(await CoreTestKit.eventually { rt.users.existing("dup")?.inFlightCount == 1 })
        #expect(rt.isRunInFlight(runID: "same-id", userID: "dup"))
        #expect(rt.cancel(runID: "same-id", userID: "dup"))   // the other
        #expect(await a.value()?.error?.code == .cancelled)
        #expect(await b.value()?.error?.code == .cancelled)
        #expect(rt.users.existing("dup")?.inFlightCount == 0)
        #expect(!rt.isRunInFlight(runID: "same-id", userID: "dup"))
    }

    @Test("in-flight runs leave in any order and the table stays exact")
    func inFlightRunsAnyOrder() {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let user = rt.users.state(for: "order")
        let calls = (0..<8).map { i in
            AgentCall(runtime: rt, context: try! UserExecutionContext.make(userID: "order", runID: "r\(i)"),
                      plugin: "t", name: "x", parent: nil, stream: user.stream, input: "{}",
                      heartbeatTimeout: .zero, grace: .zero)
        }
        var table = InFlightRuns()
        for c in calls { table.insert(c) }
        for i in [3, 0, 7, 5] { table.remove(calls[i]) }
        table.remove(calls[3])   // twice: no effect
        #expect(Set(table.runIDs) == ["r1", "r2", "r4", "r6"])
        #expect(table.find("r6") === calls[6])
        #expect(table.find("r5") == nil)
        for i in [1, 2, 4, 6] { table.remove(calls[i]) }
        #expect(table.isEmpty)
    }

    @Test("run ids are unique, at most 15 bytes (stored inline) and share one random prefix per process")
    func runIDs() {
        var seen = Set<String>()
        var prefix: Substring? = nil
        for i in 0..<100_000 {
            let id = RunID.next(i % 2 == 0 ? .run : .tool)
            #expect(id.utf8.count <= 15, "\(id)")
            #expect(id.hasPrefix(i % 2 == 0 ? "run_" : "tool_"))
            let p = id.drop { $0 != "_" }.dropFirst().prefix(5)
            if let prefix { #expect(p == prefix) } else { prefix = p }
            #expect(seen.insert(id).inserted, "\(id) repeated")
            #expect(id.utf8.allSatisfy { $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        }
    }

    @Test("event timestamps from the monotonic reading agree with the wall clock")
    func eventTimestamps() throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "ok") { call, _ in call.setResult("1") }
        let before = MonotonicTime.wallMillis()
        let r = rt.runBlocking(RunRequest(plugin: "t", agent: "ok", userID: "clock", onCallerThread: true))
        let after = MonotonicTime.wallMillis()
        let events = CoreTestKit.events(rt, user: "clock", run: r.runID)
        #expect(events.map(\.kind) == [.agentStarted, .agentCompleted])
        for e in events {
            // One millisecond either way: the derived time truncates the offset and the reading.
            #expect(e.timestampMillis >= before - 1 && e.timestampMillis <= after + 1, "\(e.timestampMillis) not in [\(before), \(after)]")
        }
        #expect(events[0].timestampMillis <= events[1].timestampMillis)
        let derived = MonotonicTime.wallMillis(atMonotonic: MonotonicTime.nanos())
        #expect(abs(derived - MonotonicTime.wallMillis()) <= 2)
    }
}

@Suite("Event layout")
struct EventLayoutTests {
    @Test("an event stays small: its largest payloads are boxed")
    func eventSize() {
        // 6 strings, kind, seq, timestamp and the payload's inline part (177 bytes); before
        // boxing the error-carrying cases an event took 240 bytes.
        #expect(MemoryLayout<Event>.size <= 184, "Event is \(MemoryLayout<Event>.size) bytes")
    }
}

@Suite("Instance slots of a user")
struct InstanceSlotsTests {
    @Test("the first slot lives in a field, the rest in a table; lookups and removals see both")
    func firstAndMore() {
        func slot(_ agent: String, _ session: String) -> InstanceSlot {
            InstanceSlot(key: InstanceKey(agent: agent, sessionID: session), implementation: ClosureAgent { _, _ in .ok },
                         userID: "u")
        }
        var slots = InstanceSlots()
        let a = slot("p.a", "s1"), b = slot("p.a", "s2"), c = slot("p.b", "s1")
        #expect(slots[a.key] == nil)
        slots.insert(a)
        slots.insert(b)
        slots.insert(c)
        #expect(slots[a.key] === a && slots[b.key] === b && slots[c.key] === c)
        #expect(slots[InstanceKey(agent: "p.b", sessionID: "s2")] == nil)
        #expect(Set(slots.keys.map { "\($0.agent)/\($0.sessionID)" }) == ["p.a/s1", "p.a/s2", "p.b/s1"])
        #expect(slots.removeValue(forKey: a.key) === a)   // the first one
        #expect(slots[a.key] == nil && slots[b.key] === b)
        let d = slot("p.c", "s3")
        slots.insert(d)   // the field is free again
        #expect(slots[d.key] === d && slots.values.count == 3)
        #expect(slots.removeValue(forKey: c.key) === c)
        #expect(slots.removeValue(forKey: c.key) == nil)
        slots.removeAll()
        #expect(slots.values.isEmpty && slots[b.key] == nil && slots[d.key] == nil)
    }
}

@Suite("Review regressions of the hot path")
struct HotPathReviewTests {
    @Test("a retried run id finds the live call, not the abandoned one still holding the id")
    func retriedIDFindsLiveCall() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(1) }
        defer { rt.shutdown() }
        let release = TestGate()
        let entered = Shared<Int>(0)
        try CoreTestKit.agent(rt, "ignores") { call, _ in
            entered.add(1)
            if entered.load() == 1 { release.wait() } else { CoreTestKit.waitForCancellation(call) }
            return .cancelled
        }
        // The first call ignores its deadline: abandoned, it keeps the id in the in-flight table.
        let zombie = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "ignores", userID: "re", timeout: .seconds(5),
                                                            runID: "same")) }
        #expect(await CoreTestKit.eventually { entered.load() == 1 })
        #expect(rt.advance(clock, by: .seconds(5)))
        #expect(rt.advance(clock, by: .seconds(1)))
        #expect(await zombie.value()?.error?.code == .timeout)
        // The retry with the same id: cancel and in-flight lookups must reach it.
        let retry = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "ignores", userID: "re", runID: "same")) }
        #expect(await CoreTestKit.eventually { entered.load() == 2 })
        #expect(rt.isRunInFlight(runID: "same", userID: "re"))
        #expect(rt.cancel(runID: "same", userID: "re"))
        #expect(await retry.value()?.error?.code == .cancelled)
        #expect(!rt.isolationReport().serialized().contains("held by re and re"))
        release.release()
        #expect(await CoreTestKit.eventually { rt.users.existing("re")?.inFlightCount == 0 })
    }

    @Test("an agent that ends its own context mid-call is still cancelled and abandoned on time")
    func endedContextStillCancellable() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(1) }
        defer { rt.shutdown() }
        let release = TestGate()
        try CoreTestKit.agent(rt, "ends") { call, _ in
            call.context.end()   // agent code may; the call must stay under the state machine
            release.wait()       // and it ignores cancellation
            return .ok
        }
        let job = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "ends", userID: "ender", onCallerThread: false)) }
        #expect(await CoreTestKit.eventually { release.arrived == 1 })
        let id = try #require(rt.users.existing("ender")?.inFlightRunIDs.first)
        #expect(rt.cancel(runID: id, userID: "ender"))
        #expect(rt.advance(clock, by: .seconds(1)))   // the grace period: abandoned, the caller answered
        let r = await job.value()
        #expect(r?.error?.code == .cancelled && r?.error?.message.contains("abandoned") == true,
                "\(String(describing: r?.outcome))")
        release.release()
        #expect(await CoreTestKit.eventually { rt.users.existing("ender")?.inFlightCount == 0 })
    }

    @Test("timestamps never decrease along a stream, whatever the events were stamped with")
    func timestampsMonotone() {
        let bus = EventBus()
        let stream = bus.stream(for: "ts")
        for t: Int64 in [1_000, 900, 1_200, 1_100, 1_300] {
            stream.append(Event(kind: .custom, timestampMillis: t, userID: "ts", sessionID: "s", runID: "r",
                                plugin: "p", agent: "a", payload: .custom(name: "x", value: "1")))
        }
        var out = ContiguousArray<Event>()
        _ = stream.read(from: 1, max: 10, into: &out)
        #expect(out.map(\.timestampMillis) == [1_000, 1_000, 1_200, 1_200, 1_300])
    }
}
