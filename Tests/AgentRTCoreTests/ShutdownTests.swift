import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// An agent with sessions whose runs hang (ignoring cancellation) or wait for cancellation,
/// by input; every hook is recorded with the session it belongs to.
private final class ShutdownAgent: AgentImplementation, @unchecked Sendable {
    let hang = TestGate()
    let cooperativeRunning = Shared<Int>(0)
    let hungCalls = Recorder<AgentCall>()
    let opened = Recorder<String>()
    let closed = Recorder<String>()

    var hasSessionHooks: Bool { true }
    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        opened.append("\(userID)/\(sessionID)")
        return AgentInstance(value: "\(userID)/\(sessionID)")
    }
    func closeSession(_ instance: AgentInstance) { closed.append(instance.value as! String) }
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        switch input {
        case "\"hang\"":
            hungCalls.append(call)
            hang.wait()   // deaf to cancellation
            return call.setResult("\"hung\"")
        case "\"cooperate\"":
            cooperativeRunning.add(1)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        default:
            return call.setResult("\"quick\"")
        }
    }

    func closes(of session: String) -> Int { closed.all.filter { $0 == session }.count }
}

/// Completions of detached runs: how often each ran, and whether `shutdown()` had returned then.
private final class Completions: @unchecked Sendable {
    let shutdownReturned = Shared<Bool>(false)
    private let lock = Lock()
    private var calls: [String: [RunResult]] = [:]
    private var late = 0

    func record(_ run: String, _ r: RunResult) {
        let after = shutdownReturned.load()
        lock.withLock {
            calls[run, default: []].append(r)
            if after { late += 1 }
        }
    }
    var byRun: [String: [RunResult]] { lock.withLock { calls } }
    var total: Int { lock.withLock { calls.values.reduce(0) { $0 + $1.count } } }
    var afterShutdown: Int { lock.withLock { late } }
}

@Suite("Shutdown")
struct ShutdownTests {
    @Test("shutdown with hung and cooperative runs in flight: every outcome once before it returns, every session closed once",
          .timeLimit(.minutes(1)))
    func shutdownWithHungRuns() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(100); $0.perUserLimit = 8 }
        let agent = ShutdownAgent()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: agent)
        // An idle session, open but unused when the runtime shuts down.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "s", userID: "idle", sessionID: "i0", input: "\"quick\"")).isSuccess)
        let done = Completions()
        var runs: [(id: String, kind: String)] = []
        for i in 0..<2 {
            for kind in ["hang", "cooperate"] {
                let run = "run-\(kind)-\(i)"
                rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "\(kind)-user-\(i)", sessionID: "\(kind)-\(i)",
                                          input: "\"\(kind)\"", runID: run)) { done.record(run, $0) }
                runs.append((run, kind))
            }
        }
        #expect(await CoreTestKit.eventually { agent.hang.arrived == 2 && agent.cooperativeRunning.load() == 2 })

        let shutdown = Background("test-shutdown") {
            rt.shutdown()
            done.shutdownReturned.store(true)
        }
        // The cooperative runs stop at once; the hung ones are cancelled and get the grace period.
        #expect(await CoreTestKit.eventually { agent.hungCalls.all.allSatisfy { $0.context.isCancelled } })
        #expect(await CoreTestKit.eventually { done.byRun.keys.filter { $0.contains("cooperate") }.count == 2 })
        rt.advance(clock, by: .milliseconds(100))
        #expect(await shutdown.value() != nil, "shutdown never returned")

        // Every run's completion ran exactly once, before shutdown returned.
        let byRun = done.byRun
        for (run, kind) in runs {
            let results = byRun[run] ?? []
            #expect(results.count == 1, "\(run): \(results.count) completions")
            let code = results.first?.error?.code
            #expect(code == .cancelled || code == .timeout, "\(run) (\(kind)): \(results.first?.outcome as Any)")
        }
        #expect(done.afterShutdown == 0)
        #expect(byRun.values.flatMap { $0 }.filter { $0.error?.message.contains("abandoned") == true }.count == 2)
        // Sessions nobody was using are closed exactly once by then; the hung runs' are still in use.
        for session in ["idle/i0", "cooperate-user-0/cooperate-0", "cooperate-user-1/cooperate-1"] {
            #expect(agent.closes(of: session) == 1, "\(session) closed \(agent.closes(of: session)) times")
        }
        #expect(agent.closes(of: "hang-user-0/hang-0") == 0 && agent.closes(of: "hang-user-1/hang-1") == 0)
        // New calls are refused.
        let refused = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "late", input: "\"quick\"")) { refused.append($0) }
        #expect(refused.all.first?.error?.code == .cancelled)
        #expect(refused.all.first?.started == false)

        // The hung agents return after all: no completion runs again, and each of their
        // instances is closed exactly once, now that nothing uses it.
        agent.hang.release()
        #expect(await CoreTestKit.eventually { agent.closes(of: "hang-user-0/hang-0") == 1 && agent.closes(of: "hang-user-1/hang-1") == 1 })
        #expect(done.total == runs.count)
        #expect(done.afterShutdown == 0)
        #expect(agent.closed.count == agent.opened.count, "opened \(agent.opened.all), closed \(agent.closed.all)")
        #expect(Set(agent.closed.all).count == agent.closed.count, "an instance was closed twice")
        // A second shutdown returns at once.
        rt.shutdown()
    }

    @Test("shutdown on the system clock with a 100 ms grace returns once the hung run is abandoned", .timeLimit(.minutes(1)))
    func shutdownOnSystemClock() async throws {
        let rt = CoreTestKit.runtime { $0.grace = .milliseconds(100) }
        let agent = ShutdownAgent()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: agent)
        let done = Completions()
        rt.runDetached(RunRequest(plugin: "t", agent: "s", userID: "u", input: "\"hang\"", runID: "run-hung")) {
            done.record("run-hung", $0)
        }
        #expect(await CoreTestKit.eventually { agent.hang.arrived == 1 })
        let shutdown = Background("test-shutdown") {
            rt.shutdown()
            done.shutdownReturned.store(true)
        }
        #expect(await shutdown.value() != nil, "shutdown never returned")
        #expect(done.byRun["run-hung"]?.count == 1)
        #expect(done.byRun["run-hung"]?.first?.error?.code == .cancelled)
        #expect(done.afterShutdown == 0)
        agent.hang.release()
        #expect(await CoreTestKit.eventually { agent.closed.count == 1 })
        #expect(done.total == 1)
    }
}
