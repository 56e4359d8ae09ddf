import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting
#if canImport(Glibc)
import Glibc
#endif

/// `SynchronousExecution.callerThread`: `runBlocking` runs the agent on the calling thread with
/// every guard still on; only abandonment changes (the outcome is decided at deadline + grace,
/// the thread returns when the code does).
@Suite("Caller-thread execution")
struct CallerThreadTests {
    private static func threadID() -> UInt64 { UInt64(pthread_self()) }

    @Test("runBlocking runs on the caller's thread when asked (per call or by default), on a worker otherwise",
          arguments: [(SynchronousExecution.handOff, nil as Bool?, false), (.handOff, true, true),
                      (.callerThread, nil, true), (.callerThread, false, false)])
    func whereItRuns(_ policy: SynchronousExecution, _ perCall: Bool?, _ expectCaller: Bool) async throws {
        let rt = CoreTestKit.runtime { $0.synchronousExecution = policy }
        defer { rt.shutdown() }
        let ranOn = Shared<UInt64>(0)
        try CoreTestKit.agent(rt, "where") { call, _ in
            ranOn.store(Self.threadID())
            return call.setResult("1")
        }
        let job = Background { () -> (UInt64, RunResult) in
            let r = rt.runBlocking(RunRequest(plugin: "t", agent: "where", userID: "ann", onCallerThread: perCall))
            return (Self.threadID(), r)
        }
        let (caller, r) = try #require(await job.value())
        #expect(r.isSuccess, "\(r.outcome)")
        #expect((ranOn.load() == caller) == expectCaller, "policy \(policy), per call \(String(describing: perCall))")
        let events = CoreTestKit.events(rt, user: "ann").map(\.kind)
        #expect(events == [.agentStarted, .agentCompleted], "\(events)")
    }

    @Test("on the caller's thread the deadline is exact: cancelled at the deadline, the outcome published at deadline + grace, the zombie returned with the code")
    func deadlineOnCallerThread() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(50); $0.synchronousExecution = .callerThread }
        defer { rt.shutdown() }
        let gate = TestGate()
        let sawCancel = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "stubborn") { call, _ in
            gate.wait()   // ignores cancellation until the test lets it go
            sawCancel.store(call.context.isCancelled)
            return call.setResult("1")
        }
        let job = Background { rt.runBlocking(RunRequest(plugin: "t", agent: "stubborn", userID: "bo", timeout: .milliseconds(100))) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        rt.advance(clock, by: .milliseconds(100))   // the deadline
        rt.advance(clock, by: .milliseconds(50))    // + grace: abandoned, the outcome decided now
        #expect(await CoreTestKit.eventually { CoreTestKit.events(rt, user: "bo").contains { $0.kind == .agentFailed } })
        #expect(rt.stats(plugin: "t", agent: "stubborn")?.zombies == 1, "the code still holds the caller's thread")
        #expect(!job.isDone, "the caller's thread returns only when the code does")
        gate.release()
        let r = try #require(await job.value())
        #expect(r.error?.code == .timeout, "\(r.outcome)")
        #expect(sawCancel.load(), "the context was cancelled at the deadline")
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "stubborn")?.zombies == 0 })
        #expect(rt.stats(plugin: "t", agent: "stubborn")?.inFlight == 0)
        #expect(rt.global.held == 0)
    }

    @Test("plugin code on the caller's thread cannot leave it with another rounding mode or signal mask")
    func threadStateRestored() async throws {
        let rt = CoreTestKit.runtime { $0.synchronousExecution = .callerThread }
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "messy") { call, _ in
            fesetround(FE_UPWARD as Int32)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            return call.setResult("1")
        }
        let job = Background { () -> (Int32, Bool, Bool, Bool) in
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            var before = sigset_t()
            pthread_sigmask(SIG_SETMASK, nil, &before)
            let r = rt.runBlocking(RunRequest(plugin: "t", agent: "messy", userID: "cy"))
            var mask = sigset_t()
            pthread_sigmask(SIG_SETMASK, nil, &mask)
            return (fegetround(), sigismember(&before, SIGUSR2) == 1, sigismember(&mask, SIGUSR2) == 1, r.isSuccess)
        }
        let (round, blockedBefore, blocked, ok) = try #require(await job.value())
        #expect(ok)
        #expect(round == (FE_TONEAREST as Int32), "rounding mode restored")
        #expect(!blockedBefore)
        #expect(!blocked, "signal mask restored")
    }

    @Test("an agent that ends the caller's thread (pthread_exit) ends its call crashed, nothing held")
    func callerThreadExits() async throws {
        let rt = CoreTestKit.runtime { $0.synchronousExecution = .callerThread }
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "quitter") { _, _ in pthread_exit(nil) }
        let results = Recorder<RunResult>()
        let sub = rt.events.subscribe(userID: "di")
        defer { sub.cancel() }
        NativeThread(name: "doomed-caller") {
            results.append(rt.runBlocking(RunRequest(plugin: "t", agent: "quitter", userID: "di")))
        }.detach()
        #expect(await CoreTestKit.eventually { CoreTestKit.events(rt, user: "di").contains { $0.kind == .agentFailed } })
        let failed = CoreTestKit.events(rt, user: "di").first { $0.kind == .agentFailed }
        #expect(CoreTestKit.data(failed!)["error"]?["code"]?.stringValue == "crashed")
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "quitter")?.inFlight == 0 })
        #expect(rt.global.held == 0)
        #expect(results.count == 0, "that caller never returned")
    }
}
