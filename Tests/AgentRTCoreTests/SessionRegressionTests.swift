import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// Session hooks the test controls: `session_open` fails `failures` times first, and hangs for
/// users whose id starts with "hang" until `openGate` is released. Counts every hook.
private final class ControlledSessions: AgentImplementation, @unchecked Sendable {
    let failures: Shared<Int>
    let openGate = TestGate()
    let opens = Shared<Int>(0)
    let hungOpens = Shared<Int>(0)
    let closes = Recorder<String>()
    let runs = Recorder<String>()

    init(failFirst: Int = 0) { failures = Shared(failFirst) }

    var hasSessionHooks: Bool { true }

    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        opens.add(1)
        if failures.add(-1).newValue >= 0 { throw AgentRTError(.agentError, "the backend is not ready yet") }
        if userID.hasPrefix("hang") {
            hungOpens.add(1)
            openGate.wait()   // a session_open stuck in plugin code, deaf to cancellation
        }
        return AgentInstance(value: "\(userID)/\(sessionID)")
    }

    func closeSession(_ instance: AgentInstance) { closes.append(instance.value as! String) }

    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        runs.append(call.context.userID)
        return call.setResult("\"\(instance.value as! String)\"")
    }
}

@Suite("Session regressions")
struct SessionRegressionTests {
    @Test("a session_open that failed is retried by the next call, which succeeds", .timeLimit(.minutes(1)))
    func failedOpenIsRetried() async throws {
        let rt = CoreTestKit.runtime()
        let impl = ControlledSessions(failFirst: 1)
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: impl)
        let first = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1"))
        #expect(first.error?.code == .agentError, "\(first.outcome)")
        #expect(first.error?.message.contains("session open failed") == true, "\(first.error?.message ?? "")")
        #expect(first.error?.message.contains("the backend is not ready yet") == true)
        #expect(impl.runs.count == 0, "the agent ran without its session")
        // The failure is not remembered: the next call opens again, and this time it works.
        let second = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1"))
        #expect(second.resultJSON == "\"alice/c1\"", "\(second.outcome)")
        #expect(impl.opens.load() == 2)
        // Opened once it succeeded: later calls reuse the instance.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice", sessionID: "c1")).isSuccess)
        #expect(impl.opens.load() == 2)
        #expect(rt.listUsers().first?.sessions == ["c1"])
    }

    @Test("a user whose call started after the expiry read the time is not idle", .timeLimit(.minutes(1)))
    func activityAfterNowIsNotIdle() async throws {
        // The idle sweeper reads `now`, then walks the users; a call that starts meanwhile makes
        // its user's last use later than that `now`. Such a user was used 0 s ago, not ~584 years.
        let (rt, clock) = CoreTestKit.manualRuntime()
        let impl = ControlledSessions()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: impl)
        let sweepNow = clock.nowNanos()
        clock.advance(by: .milliseconds(1))
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "alice")).isSuccess)
        let expired = rt.expireIdleUsers(idle: .seconds(15 * 60), now: sweepNow)
        #expect(expired.isEmpty, "a user active after `now` was expired as idle: \(expired)")
        #expect(rt.users.existing("alice") != nil)
        #expect(impl.closes.count == 0)
    }

    @Test("a hung session_open blocks neither removeUser nor expireIdleUsers; its abandoned call says session_open did not return",
          .timeLimit(.minutes(1)))
    func hungOpenBlocksNothing() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(50) }
        let impl = ControlledSessions()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: impl)
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "idle-bob")).isSuccess)
        let outcomes = Locked<[String: RunResult]>([:])
        for (user, timeout) in [("hang-carol", Duration.milliseconds(50)), ("hang-alice", Duration.seconds(600))] {
            rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: user, timeout: timeout)) { r in
                outcomes.withLock { $0[user] = r }
            }
        }
        #expect(await CoreTestKit.eventually { impl.hungOpens.load() == 2 })

        // Carol's open hangs past her deadline and the grace period: abandoned, and the message says where.
        rt.advance(clock, by: .milliseconds(50))
        rt.advance(clock, by: .milliseconds(50))
        #expect(await CoreTestKit.eventually { outcomes.withLock { $0["hang-carol"] } != nil })
        let carol = try #require(outcomes.withLock { $0["hang-carol"] })
        #expect(carol.error?.code == .timeout, "\(carol.outcome)")
        #expect(carol.error?.message.contains("session_open did not return") == true, "\(carol.error?.message ?? "")")
        #expect(carol.error?.message.contains("ignored cancellation") == false)

        // Bob has been idle for a minute: the expiry returns while both opens still hang.
        clock.advance(by: .seconds(60))
        let expiry = Background { rt.expireIdleUsers(idle: .seconds(60)) }
        let expired = try #require(await expiry.value(), "expireIdleUsers blocked behind a hung session_open")
        #expect(expired == ["idle-bob"])
        #expect(!impl.openGate.isOpen)
        // Removing Alice returns at once too; her call is cancelled and, still stuck, abandoned.
        let removal = Background { rt.removeUser("hang-alice") }
        let removed: Bool? = await removal.value()
        #expect(removed == true, "removeUser blocked behind a hung session_open (or found no user)")
        #expect(!impl.openGate.isOpen)
        rt.advance(clock, by: .milliseconds(50))
        #expect(await CoreTestKit.eventually { outcomes.withLock { $0["hang-alice"] } != nil })
        let alice = try #require(outcomes.withLock { $0["hang-alice"] })
        #expect(alice.error?.code == .cancelled, "\(alice.outcome)")
        #expect(alice.error?.message.contains("session_open did not return") == true, "\(alice.error?.message ?? "")")
        #expect(rt.stats(plugin: "t", agent: "s")?.zombies == 2)

        // The opens finally return: no agent code runs for the abandoned calls, the zombies drain,
        // and Alice's instance (her user is gone) is closed exactly once.
        impl.openGate.release()
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "s")?.zombies == 0 })
        #expect(await CoreTestKit.eventually { impl.closes.all.contains("hang-alice/default-session") })
        #expect(impl.runs.all == ["idle-bob"])
        #expect(impl.closes.all.filter { $0 == "hang-alice/default-session" }.count == 1)
        #expect(await CoreTestKit.eventually { impl.closes.all.contains("idle-bob/default-session") })
        #expect(impl.closes.all.filter { $0 == "idle-bob/default-session" }.count == 1)
        // Carol's opened instance serves her next call.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "hang-carol")).resultJSON == "\"hang-carol/default-session\"")
        #expect(impl.opens.load() == 3)
    }
}
