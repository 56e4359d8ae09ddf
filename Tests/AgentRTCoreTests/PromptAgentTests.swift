import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting
#if canImport(Glibc)
import Glibc
#endif


/// Agents that declare they return promptly (`AGENTRT_AGENT_RETURNS_PROMPTLY`) run on the
/// calling thread, for `runBlocking` and for the async `run`, unless the caller asks for a
/// hand-off; every guard, event and outcome is the same as on a worker.
@Suite("Agents that return promptly")
struct PromptAgentTests {
    private static func promptAgent(_ rt: Runtime, _ name: String, prompt: Bool = true, threadSafe: Bool = true,
                                    _ body: @escaping @Sendable (AgentCall, String) -> HostStatus) throws {
        try rt.register(agent: AgentDescriptor(plugin: "t", name: name, threadSafe: threadSafe, returnsPromptly: prompt),
                        implementation: ClosureAgent(body))
    }

    @Test("runBlocking: on the caller's thread by the agent's declaration, on a worker when the call asks",
          arguments: [(true, nil as Bool?, true), (true, false, false), (false, nil, false), (false, true, true)])
    func blocking(_ prompt: Bool, _ perCall: Bool?, _ expectCaller: Bool) async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let ranOn = Shared<UInt64>(0)
        try Self.promptAgent(rt, "where", prompt: prompt) { call, _ in
            ranOn.store(UInt64(pthread_self()))
            return call.setResult("1")
        }
        let job = Background { () -> (UInt64, RunResult) in
            let r = rt.runBlocking(RunRequest(plugin: "t", agent: "where", userID: "pam", onCallerThread: perCall))
            return (UInt64(pthread_self()), r)
        }
        let (caller, r) = try #require(await job.value())
        #expect(r.isSuccess, "\(r.outcome)")
        #expect((ranOn.load() == caller) == expectCaller)
        #expect(CoreTestKit.events(rt, user: "pam").map(\.kind) == [.agentStarted, .agentCompleted])
    }

    @Test("async run: a prompt, thread-safe agent runs inside the calling task (no runtime worker), others on a worker",
          arguments: [(true, true, nil as Bool?, false), (true, true, false, true), (false, true, nil, true),
                      (true, false, nil, true)])
    func async(_ prompt: Bool, _ threadSafe: Bool, _ perCall: Bool?, _ expectWorker: Bool) async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let inTask = Recorder<Bool>()
        try Self.promptAgent(rt, "where", prompt: prompt, threadSafe: threadSafe) { call, _ in
            // Synchronous code run by a task sees that task; a runtime worker has none.
            inTask.append(withUnsafeCurrentTask { $0 != nil })
            return call.setResult("1")
        }
        for _ in 0..<20 {
            let r = await rt.run(RunRequest(plugin: "t", agent: "where", userID: "pia", onCallerThread: perCall))
            #expect(r.isSuccess, "\(r.outcome)")
        }
        #expect(inTask.count == 20 && inTask.all.allSatisfy { $0 != expectWorker }, "\(inTask.all)")
        #expect(rt.users.existing("pia")?.inFlightCount == 0)
    }

    @Test("async run inline keeps the guards: a deadline cancels it, task cancellation reaches it")
    func asyncInlineGuards() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime()
        defer { rt.shutdown() }
        let entered = Shared<Int>(0)
        try Self.promptAgent(rt, "waits") { call, _ in
            entered.add(1)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        // The deadline: the manual clock moves while the agent runs inline on the task's thread.
        let mover = Background { () -> Bool in
            CoreTestKit.blockUntil { entered.load() == 1 }
            return rt.advance(clock, by: .seconds(5))
        }
        let late = await rt.run(RunRequest(plugin: "t", agent: "waits", userID: "pat", timeout: .seconds(5)))
        #expect(late.error?.code == .timeout)
        #expect(await mover.value() == true)
        // Task cancellation.
        let task = Task { await rt.run(RunRequest(plugin: "t", agent: "waits", userID: "pat")) }
        #expect(await CoreTestKit.eventually { entered.load() == 2 })
        task.cancel()
        let r = await task.value
        #expect(r.error?.code == .cancelled)
        #expect(CoreTestKit.events(rt, user: "pat").filter { $0.kind.isTerminal }.count == 2)
    }
}
