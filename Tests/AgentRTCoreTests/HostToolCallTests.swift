import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// A runtime on a manual clock with host tools that block until the test lets them go:
/// `t.block` ignores cancellation, `t.coop` returns once cancelled; both count their invocations.
private final class HostToolFixture: @unchecked Sendable {
    let clock = ManualClock()
    let rt: Runtime
    let entered = Shared<Int>(0)
    let finish = TestGate()
    let sawCancel = Shared<Bool>(false)
    let captured = Box<AgentCall>()

    init(_ configure: (inout Runtime.Configuration) -> Void = { _ in }) throws {
        rt = CoreTestKit.runtime(clock: clock, configure)
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "block", inputSchema: ["type": "object"], kind: .host),
                              implementation: ClosureTool { [entered, finish, captured] call, _ in
            captured.value = call
            entered.add(1)
            finish.wait()   // ignores cancellation
            return .result("\"released\"")
        })
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "coop", inputSchema: ["type": "object"], kind: .host),
                              implementation: ClosureTool { [entered, sawCancel, captured] call, _ in
            captured.value = call
            entered.add(1)
            sawCancel.store(CoreTestKit.waitForCancellation(call))
            return .result("\"finished anyway\"")
        })
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "add", inputSchema: ["type": "object"], kind: .host),
                              implementation: ClosureTool { _, args in
            .result(String((args["a"]?.int64Value ?? 0) + (args["b"]?.int64Value ?? 0)))
        })
    }

    /// `rt.callTool` on its own native thread: it blocks its caller until the tool's outcome.
    func callInBackground(_ tool: String, user: String = "alice", timeout: Duration? = nil)
        -> Background<Result<ToolCallResult, AgentRTError>> {
        let rt = self.rt
        return Background("host-tool-call") { rt.callTool(userID: user, name: tool, argumentsJSON: "{}", timeout: timeout) }
    }
}

@Suite("Host tool calls")
struct HostToolCallTests {
    @Test("a host tool call whose cooperative tool outlives its 50 ms timeout is timeout at 50 ms on the clock",
          .timeLimit(.minutes(1)))
    func cooperativeHostToolTimesOut() async throws {
        let f = try HostToolFixture()
        let call = f.callInBackground("t.coop", timeout: .milliseconds(50))
        #expect(await CoreTestKit.eventually { f.entered.load() == 1 })
        f.rt.advance(f.clock, by: .milliseconds(50) - .nanoseconds(1))
        #expect(f.captured.value?.context.isCancelled == false, "cancelled before its deadline")
        f.rt.advance(f.clock, by: .nanoseconds(1))
        let outcome = try #require(await call.value(), "callTool never returned after its deadline")
        guard case .failure(let e) = outcome else { Issue.record("a timed-out tool call succeeded: \(outcome)"); return }
        #expect(e.code == .timeout, "\(e)")
        #expect(!e.message.contains("abandoned"), "it stopped by itself: \(e.message)")
        #expect(f.sawCancel.load())
        // The root run of the host call ended, and its permit came back.
        #expect(await CoreTestKit.eventually { f.rt.users.existing("alice")?.admission.held == 0 })
        #expect(f.rt.users.existing("alice")?.inFlightCount == 0)
    }

    @Test("a host tool call whose tool ignores cancellation is timeout, abandoned at deadline + grace",
          .timeLimit(.minutes(1)))
    func blockingHostToolIsAbandoned() async throws {
        let f = try HostToolFixture { $0.grace = .milliseconds(100) }
        let call = f.callInBackground("t.block", timeout: .milliseconds(50))
        #expect(await CoreTestKit.eventually { f.entered.load() == 1 })
        f.rt.advance(f.clock, by: .milliseconds(50))
        #expect(f.captured.value?.context.isCancelled == true, "the deadline did not reach the tool")
        #expect(!call.isDone, "callTool returned before deadline + grace while its tool still ran")
        f.rt.advance(f.clock, by: .milliseconds(100))
        let outcome = try #require(await call.value(), "callTool never returned after deadline + grace")
        guard case .failure(let e) = outcome else { Issue.record("a hung tool call succeeded: \(outcome)"); return }
        #expect(e.code == .timeout, "\(e)")
        #expect(e.message.contains("abandoned"), "\(e.message)")
        #expect(!f.finish.isOpen, "callTool waited for the hung tool")
        // A zombie until the tool returns; then everything is given back.
        #expect(f.rt.stats(user: "alice")?.zombies == 1)
        f.finish.release()
        #expect(await CoreTestKit.eventually { f.rt.stats(user: "alice")?.zombies == 0 })
        #expect(await CoreTestKit.eventually { f.rt.users.existing("alice")?.admission.held == 0 })
        let again = f.rt.callTool(userID: "alice", name: "t.add", argumentsJSON: "{\"a\":1,\"b\":2}")
        #expect(try again.get() == ToolCallResult(isError: false, content: "3"))
    }

    @Test("host tool calls count against the per-user admission limit", .timeLimit(.minutes(1)))
    func hostToolCallsAreAdmitted() async throws {
        let f = try HostToolFixture { $0.perUserLimit = 1 }
        try CoreTestKit.agent(f.rt, "echo") { call, _ in call.setResult("1") }
        let first = f.callInBackground("t.block")
        #expect(await CoreTestKit.eventually { f.entered.load() == 1 })
        // Alice's only permit is held by her running tool call.
        let second = try #require(await f.callInBackground("t.add").value())
        guard case .failure(let e) = second else { Issue.record("a second concurrent call was admitted: \(second)"); return }
        #expect(e.code == .overloaded, "\(e)")
        #expect(e.message.contains("per-user limit"), "\(e.message)")
        #expect(f.entered.load() == 1)
        // Her agent runs are refused the same way; another user is not affected.
        #expect(await f.rt.run(RunRequest(plugin: "t", agent: "echo", userID: "alice")).error?.code == .overloaded)
        let bob = try #require(await f.callInBackground("t.add", user: "bob").value())
        #expect(try bob.get() == ToolCallResult(isError: false, content: "0"))
        f.finish.release()
        let done = try #require(await first.value())
        #expect(try done.get() == ToolCallResult(isError: false, content: "\"released\""))
        // Once it returned, the permit is free again.
        let third = try #require(await f.callInBackground("t.add").value())
        #expect(try third.get() == ToolCallResult(isError: false, content: "0"))
        #expect(f.rt.stats(user: "alice")?.failures[.overloaded] == 2)
    }
}
