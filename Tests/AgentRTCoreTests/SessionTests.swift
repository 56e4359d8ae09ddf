import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// An agent with session hooks that counts opens and closes and records every closed instance,
/// so double closes and leaks show. Each instance's value is a unique number.
private final class SessionAgent: AgentImplementation, @unchecked Sendable {
    let opens = Shared<Int>(0)
    let closes = Shared<Int>(0)
    let closed = Recorder<Int>()
    let openedFor = Recorder<String>()
    let body: @Sendable (AgentCall, Int) -> HostStatus

    init(_ body: @escaping @Sendable (AgentCall, Int) -> HostStatus = { call, id in call.setResult("\(id)") }) {
        self.body = body
    }

    var hasSessionHooks: Bool { true }

    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        let id = opens.add(1, ordering: .acquiringAndReleasing).newValue
        openedFor.append("\(userID)/\(sessionID)")
        CoreTestKit.sleep(ms: 2)  // widen the window for racing first calls
        return AgentInstance(value: id)
    }

    func closeSession(_ instance: AgentInstance) {
        closed.append(instance.value as! Int)
        closes.add(1, ordering: .acquiringAndReleasing)
    }

    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        body(call, instance.value as! Int)
    }

    var openCount: Int { opens.load(ordering: .acquiring) }
    var closeCount: Int { closes.load(ordering: .acquiring) }
    var closedTwice: Bool { Set(closed.all).count != closed.count }
}

private func register(_ rt: Runtime, _ name: String, _ impl: SessionAgent) throws {
    try rt.register(agent: AgentDescriptor(plugin: "t", name: name, hasSessionHooks: true), implementation: impl)
}

@Suite("User sessions")
struct SessionTests {
    @Test("racing first calls open one session instance", .timeLimit(.minutes(1)))
    func racingFirstCalls() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 32 }
        let agent = SessionAgent()
        try register(rt, "s", agent)
        let results = await withTaskGroup(of: RunResult.self) { g in
            for _ in 0..<24 { g.addTask { await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "conv-1")) } }
            return await g.reduce(into: [RunResult]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.isSuccess })
        #expect(Set(results.compactMap(\.resultJSON)).count == 1)
        #expect(agent.openCount == 1)
        // Another session, another user: their own instances.
        let other = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "conv-2"))
        let bob = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "bob", sessionID: "conv-1"))
        #expect(Set([results[0].resultJSON, other.resultJSON, bob.resultJSON]).count == 3)
        #expect(agent.openCount == 3)
        #expect(Set(agent.openedFor.all) == ["alice/conv-1", "alice/conv-2", "bob/conv-1"])
        #expect(rt.listUsers().map(\.userID) == ["alice", "bob"])
        #expect(rt.listUsers().first?.sessions == ["conv-1", "conv-2"])
    }

    @Test("racing first users create one user state each", .timeLimit(.minutes(1)))
    func racingUserStates() async {
        let rt = CoreTestKit.runtime()
        let states = Recorder<ObjectIdentifier>()
        await CoreTestKit.onThreads(16) { _ in states.append(ObjectIdentifier(rt.users.state(for: "zed"))) }
        #expect(Set(states.all).count == 1)
        #expect(rt.userCount == 1)
    }

    @Test("reset closes each instance exactly once, after the running call returns", .timeLimit(.minutes(1)))
    func resetWhileRunning() async throws {
        let rt = CoreTestKit.runtime()
        let gate = TestGate()
        let agent = SessionAgent { call, id in
            if call.context.metadata["hold"] != nil { gate.wait() }
            return call.setResult("\(id)")
        }
        try register(rt, "s", agent)
        let first = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1"))
        let held = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1", metadata: ["hold": "1"])) { held.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        #expect(rt.resetSession(userID: "alice", sessionID: "c1") == 1)
        #expect(rt.resetSession(userID: "alice", sessionID: "c1") == 0)
        // In use: not closed yet.
        try await Task.sleep(for: .milliseconds(20))
        #expect(agent.closeCount == 0)
        gate.release()
        #expect(await CoreTestKit.eventually { held.count == 1 && agent.closeCount == 1 })
        #expect(held.all.first?.resultJSON == first.resultJSON)
        // The next call opens a fresh instance.
        let next = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1"))
        #expect(next.resultJSON != first.resultJSON)
        #expect(agent.openCount == 2)
        try await Task.sleep(for: .milliseconds(20))
        #expect(agent.closeCount == 1)
        #expect(!agent.closedTwice)
    }

    @Test("remove cancels running calls and closes every instance once", .timeLimit(.minutes(1)))
    func removeWhileRunning() async throws {
        let rt = CoreTestKit.runtime()
        let gate = TestGate()
        let agent = SessionAgent { call, id in
            if call.context.metadata["hold"] != nil, !gate.wait(orCancelled: call) { return .cancelled }
            return call.setResult("\(id)")
        }
        try register(rt, "s", agent)
        _ = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c2"))
        let held = Recorder<RunResult>()
        for _ in 0..<2 {
            rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1", metadata: ["hold": "1"])) { held.append($0) }
        }
        #expect(await CoreTestKit.eventually { gate.arrived == 2 })
        #expect(rt.removeUser("alice"))
        #expect(!rt.removeUser("alice"))
        #expect(await CoreTestKit.eventually { held.count == 2 && agent.closeCount == 2 })
        #expect(held.all.allSatisfy { $0.error?.code == .cancelled })
        #expect(agent.openCount == 2)
        #expect(!agent.closedTwice)
        #expect(rt.userCount == 0)
        let cancelled = CoreTestKit.events(rt, user: "alice").filter { $0.kind == .agentCancelled }
        #expect(cancelled.count == 2)
        #expect(cancelled.allSatisfy { CoreTestKit.data($0)["by"] == "runtime" })
        gate.release()
    }

    @Test("removeAllUsers while calls run: calls end cancelled or completed, nothing closed twice", .timeLimit(.minutes(1)))
    func removeAllWhileRunning() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 8 }
        let agent = SessionAgent { call, id in
            for _ in 0..<Int.random(in: 0...30) {
                if call.context.isCancelled { return .cancelled }
                CoreTestKit.sleep(ms: 1)
            }
            return call.setResult("\(id)")
        }
        try register(rt, "s", agent)
        for round in 0..<5 {
            let results = Recorder<RunResult>()
            var submitted = 0
            for u in 0..<6 {
                for k in 0..<4 {
                    rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "user-\(u)", sessionID: "s-\(k % 2)")) { results.append($0) }
                    submitted += 1
                }
            }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 0...10)))
            rt.removeAllUsers()
            let n = submitted
            #expect(await CoreTestKit.eventually { results.count == n })
            for r in results.all where !r.isSuccess {
                #expect(r.error?.code == .cancelled, "round \(round): \(r.error!)")
            }
            #expect(await CoreTestKit.eventually { agent.closeCount == agent.openCount }, "round \(round): \(agent.openCount) opened, \(agent.closeCount) closed")
            #expect(!agent.closedTwice)
        }
        #expect(rt.userCount == 0)
        // The runtime still serves calls afterwards.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "user-1")).isSuccess)
    }

    @Test("a call admitted after its user was removed does not leak an instance", .timeLimit(.minutes(1)))
    func admittedAfterRemoval() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 1 }
        let gate = TestGate()
        let agent = SessionAgent { call, id in
            if call.context.metadata["hold"] != nil, !gate.wait(orCancelled: call) { return .cancelled }
            return call.setResult("\(id)")
        }
        try register(rt, "s", agent)
        let results = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1", metadata: ["hold": "1"])) { results.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        // A second call waits for Alice's only permit.
        let waiter = Task { await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1", admissionWait: .seconds(5))) }
        #expect(await CoreTestKit.eventually { rt.users.existing("alice")?.admission.waiting == 1 })
        rt.removeUser("alice")
        let second = await waiter.value
        #expect(await CoreTestKit.eventually { results.count == 1 })
        #expect(results.all.first?.error?.code == .cancelled)
        // Whatever happened to the waiter (refused, cancelled or run), no instance may stay open.
        #expect(await CoreTestKit.eventually { agent.closeCount == agent.openCount },
                "\(agent.openCount) instances opened, \(agent.closeCount) closed; the waiter ended with \(second.error?.code.rawValue ?? "success")")
    }

    @Test("removing users releases their event streams", .timeLimit(.minutes(1)))
    func removedUsersReleaseStreams() async throws {
        let rt = CoreTestKit.runtime()
        try CoreTestKit.agent(rt, "echo") { call, _ in call.setResult("1") }
        let baseline = rt.events.streamCount
        for i in 0..<50 { _ = await rt.run(RunRequest(plugin: "t", agent: "echo", userID: "gone-\(i)")) }
        #expect(rt.events.streamCount == baseline + 50)
        rt.removeAllUsers()
        #expect(rt.userCount == 0)
        // Nobody watches these streams and their users are gone: their replay buffers must go too.
        #expect(rt.events.streamCount == baseline, "\(rt.events.streamCount - baseline) streams of removed users are still held")
    }

    @Test("idle users expire; busy ones stay", .timeLimit(.minutes(1)))
    func expireIdle() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime()
        let gate = TestGate()
        let agent = SessionAgent { call, id in
            if call.context.metadata["hold"] != nil { gate.wait() }
            return call.setResult("\(id)")
        }
        try register(rt, "s", agent)
        _ = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "idle-user", sessionID: "a"))
        _ = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "busy-user", sessionID: "b"))
        let held = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "busy-user", sessionID: "b", timeout: .seconds(600),
                                  metadata: ["hold": "1"])) { held.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        // Not idle long enough yet: 1 ns short of a minute.
        clock.advance(by: .seconds(60) - .nanoseconds(1))
        #expect(rt.expireIdleUsers(idle: .seconds(60)).isEmpty)
        clock.advance(by: .nanoseconds(1))
        #expect(rt.expireIdleUsers(idle: .seconds(60)) == ["idle-user"])
        #expect(rt.listUsers().map(\.userID) == ["busy-user"], "a user with a call in flight is never idle")
        #expect(await CoreTestKit.eventually { agent.closeCount == 1 })
        gate.release()
        #expect(await CoreTestKit.eventually { held.count == 1 })
        #expect(held.all.first?.isSuccess == true)
        // Its last call started a minute ago on the clock: idle now, with an explicit `now` as well.
        #expect(rt.expireIdleUsers(idle: .seconds(61), now: clock.nowNanos()).isEmpty)
        #expect(rt.expireIdleUsers(idle: .seconds(60), now: clock.nowNanos()) == ["busy-user"])
        #expect(await CoreTestKit.eventually { agent.closeCount == 2 })
        #expect(rt.userCount == 0)
    }

    @Test("the idle sweeper (on by default, 15 minutes) removes idle users by the clock and closes their instances once",
          .timeLimit(.minutes(1)))
    func backgroundIdleExpiry() async throws {
        let clock = ManualClock()
        var config = Runtime.Configuration()
        config.logLevel = 5
        #expect(config.idleUserExpiry == .seconds(15 * 60), "idle expiry is on by default")
        let rt = Runtime(configuration: config, clock: clock)
        defer { rt.shutdown() }
        let impl = SweepCountingAgent()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: impl)
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "idle-alice")).isSuccess)
        clock.advance(by: .seconds(60))
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "idle-bob")).isSuccess)
        // Nobody calls expireIdleUsers: the sweeper, woken by the clock, removes Alice at 15 minutes.
        // (Nudged by 1 ns while we wait: an advance that lands while the sweeper is mid-sweep does
        // not wake it, see IdleSweeper; a few nanoseconds change no idle time that matters here.)
        clock.advance(by: .seconds(14 * 60))
        #expect(await CoreTestKit.eventually {
            clock.advance(by: .nanoseconds(1))
            return rt.users.existing("idle-alice") == nil
        })
        // The sweep that removed her saw Bob idle for 14 minutes only.
        #expect(rt.users.existing("idle-bob") != nil, "a user idle for 14 minutes was removed")
        #expect(await CoreTestKit.eventually { impl.closes.load(ordering: .relaxed) == 1 })
        clock.advance(by: .seconds(60))
        #expect(await CoreTestKit.eventually {
            clock.advance(by: .nanoseconds(1))
            return rt.userCount == 0
        })
        #expect(await CoreTestKit.eventually { impl.closes.load(ordering: .relaxed) == 2 })
        #expect(impl.opens.load(ordering: .relaxed) == 2)
    }
}


/// Counts session opens and closes (for the background expiry test).
final class SweepCountingAgent: AgentImplementation, @unchecked Sendable {
    let opens = Atomic<Int>(0)
    let closes = Atomic<Int>(0)
    var hasSessionHooks: Bool { true }
    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        opens.add(1, ordering: .relaxed)
        return AgentInstance()
    }
    func closeSession(_ instance: AgentInstance) { closes.add(1, ordering: .relaxed) }
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus { call.setResult("1") }
}
