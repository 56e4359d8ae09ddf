import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

@Suite("Admission")
struct AdmissionTests {
    @Test("the per-user limit is never exceeded under stress; another user's calls still succeed",
          .timeLimit(.minutes(1)))
    func perUserLimitUnderStress() async throws {
        // On a manual clock the 20 s admission waits never run out, however loaded the machine is.
        let (rt, _) = CoreTestKit.manualRuntime { $0.perUserLimit = 4; $0.admissionWait = .seconds(20) }
        let probes = ["alice": ConcurrencyProbe(), "bob": ConcurrencyProbe()]
        let gate = TestGate()
        try CoreTestKit.agent(rt, "work") { call, input in
            let p = probes[call.context.userID]!
            p.enter()
            if call.context.userID == "alice" && input == "{\"hold\":true}" { gate.wait() } else { CoreTestKit.sleep(ms: 2) }
            p.leave()
            return call.setResult("\"\(call.context.userID)\"")
        }
        try await withThrowingTaskGroup(of: RunResult.self) { group in
            for _ in 0..<16 {
                group.addTask { await rt.run(RunRequest(plugin: "t", agent: "work", userID: "alice", input: "{\"hold\":true}")) }
            }
            // Alice is saturated: 4 inside, 12 queued.
            #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 4 && rt.users.existing("alice")?.admission.waiting == 12 })
            // Bob is not slowed by Alice: with no admission wait at all, his calls get in at once.
            for _ in 0..<8 {
                let r = await rt.run(RunRequest(plugin: "t", agent: "work", userID: "bob", admissionWait: .zero))
                #expect(r.resultJSON == "\"bob\"")
            }
            gate.release()
            for try await r in group { #expect(r.resultJSON == "\"alice\"") }
        }
        #expect(probes["alice"]!.maxSeen == 4)
        #expect(probes["bob"]!.maxSeen <= 4)
        // Without a gate: many short calls from both users at once.
        try await withThrowingTaskGroup(of: RunResult.self) { group in
            for i in 0..<32 {
                group.addTask { await rt.run(RunRequest(plugin: "t", agent: "work", userID: i % 2 == 0 ? "alice" : "bob")) }
            }
            for try await r in group { #expect(r.isSuccess) }
        }
        #expect(probes["alice"]!.maxSeen <= 4 && probes["bob"]!.maxSeen <= 4)
        #expect(await CoreTestKit.eventually {
            rt.users.existing("alice")?.admission.held == 0 && rt.users.existing("bob")?.admission.held == 0 && rt.global.held == 0
        })
    }

    @Test("6 tasks compete for 3 slots with a bounded wait", .timeLimit(.minutes(1)))
    func sixForThree() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.perUserLimit = 3 }
        let gate = TestGate()
        let probe = ConcurrencyProbe()
        try CoreTestKit.agent(rt, "hold") { call, _ in
            probe.enter(); defer { probe.leave() }
            gate.wait()
            return call.setResult("1")
        }
        // A long enough wait: all six get through, three at a time.
        try await withThrowingTaskGroup(of: RunResult.self) { group in
            for _ in 0..<6 {
                group.addTask { await rt.run(RunRequest(plugin: "t", agent: "hold", userID: "carol", admissionWait: .seconds(20))) }
            }
            #expect(await CoreTestKit.eventually { gate.arrived == 3 && rt.users.existing("carol")?.admission.waiting == 3 })
            #expect(probe.inside == 3)
            gate.release()
            var ok = 0
            for try await r in group where r.isSuccess { ok += 1 }
            #expect(ok == 6)
        }
        #expect(probe.maxSeen == 3)

        // A short wait: the callers that do not get a slot in time are refused with `overloaded`
        // when the clock passes their 30 ms: host threads (blocking waits) and async runs alike.
        let gate2 = TestGate()
        try CoreTestKit.agent(rt, "hold2") { call, _ in gate2.wait(); return call.setResult("2") }
        try await withThrowingTaskGroup(of: RunResult.self) { group in
            for _ in 0..<3 {
                group.addTask { await rt.run(RunRequest(plugin: "t", agent: "hold2", userID: "carol", admissionWait: .seconds(20))) }
            }
            #expect(await CoreTestKit.eventually { gate2.arrived == 3 })
            let blocking = (0..<2).map { _ in
                Background { rt.runBlocking(RunRequest(plugin: "t", agent: "hold2", userID: "carol", admissionWait: .milliseconds(30))) }
            }
            async let asyncWaiter = rt.run(RunRequest(plugin: "t", agent: "hold2", userID: "carol", admissionWait: .milliseconds(30)))
            #expect(await CoreTestKit.eventually { rt.users.existing("carol")?.admission.waiting == 3 })
            // Not yet: 1 ns before the end of their wait nobody is refused.
            rt.advance(clock, by: .milliseconds(30) - .nanoseconds(1))
            #expect(blocking.allSatisfy { !$0.isDone })
            #expect(rt.users.existing("carol")?.admission.waiting == 3)
            rt.advance(clock, by: .nanoseconds(1))
            var late: [RunResult] = []
            for b in blocking { if let r = await b.value() { late.append(r) } }
            late.append(await asyncWaiter)
            #expect(late.count == 3)
            #expect(late.allSatisfy { $0.error?.code == .overloaded && !$0.started }, "\(late.map { $0.error?.description ?? "ok" })")
            #expect(rt.users.existing("carol")?.admission.waiting == 0)
            #expect(rt.users.existing("carol")?.admission.held == 3)
            gate2.release()
            for try await r in group { #expect(r.isSuccess) }
        }
        #expect(await CoreTestKit.eventually { rt.users.existing("carol")?.admission.held == 0 })
    }

    @Test("blocking waits through runDetached are bounded too", .timeLimit(.minutes(1)))
    func blockingBoundedWait() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.perUserLimit = 1 }
        let gate = TestGate()
        try CoreTestKit.agent(rt, "hold") { call, _ in gate.wait(); return call.setResult("1") }
        let first = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "hold", userID: "dave")) { first.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        let second = Recorder<RunResult>()
        let detachedWaiter = Background {
            rt.runDetached(RunRequest(plugin: "t", agent: "hold", userID: "dave", admissionWait: .milliseconds(20))) {
                second.append($0)
            }
        }
        #expect(await CoreTestKit.eventually { rt.users.existing("dave")?.admission.waiting == 1 })
        rt.advance(clock, by: .milliseconds(20))
        #expect(await detachedWaiter.value() != nil)
        #expect(second.all.first?.error?.code == .overloaded)
        gate.release()
        #expect(await CoreTestKit.eventually { first.count == 1 })
        #expect(first.all.first?.isSuccess == true)
    }

    @Test("FairSemaphore hands permits over in FIFO order (async waiters)", .timeLimit(.minutes(1)))
    func fifoAsync() async {
        let sem = FairSemaphore(limit: 1)
        #expect(sem.tryAcquire())
        let order = Recorder<Int>()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    if await sem.acquire(timeout: .seconds(20)) {
                        order.append(i)
                        sem.release()
                    }
                }
                // Enqueue strictly one after the other.
                _ = await CoreTestKit.eventually { sem.waiting == i + 1 }
            }
            #expect(sem.waiting == 8)
            // No barging while others wait.
            #expect(!sem.tryAcquire())
            sem.release()
        }
        #expect(order.all == Array(0..<8))
        #expect(sem.held == 0 && sem.waiting == 0)
    }

    @Test("FairSemaphore hands permits over in FIFO order (blocking waiters)", .timeLimit(.minutes(1)))
    func fifoBlocking() async {
        let sem = FairSemaphore(limit: 1)
        #expect(sem.tryAcquire())
        let order = Recorder<Int>()
        var threads: [NativeThread] = []
        for i in 0..<6 {
            threads.append(NativeThread(name: "fifo-\(i)") {
                if sem.acquireBlocking(untilNanos: MonotonicTime.nanos() + 20_000_000_000) {
                    order.append(i)
                    CoreTestKit.sleep(ms: 1)
                    sem.release()
                }
            })
            _ = await CoreTestKit.eventually { sem.waiting == i + 1 }
        }
        #expect(!sem.tryAcquire())
        sem.release()
        #expect(await CoreTestKit.eventually { order.count == 6 })
        for t in threads { t.join() }
        #expect(order.all == Array(0..<6))
        #expect(sem.held == 0 && sem.waiting == 0)
    }

    @Test("a wait whose timeout is shorter than the timer's start-up still returns", .timeLimit(.minutes(1)))
    func tinyTimeoutReturns() async {
        let sem = FairSemaphore(limit: 1)
        #expect(sem.tryAcquire())
        let finished = Shared<Int>(0)
        let results = Recorder<Bool>()
        let waiters = Task {
            await withTaskGroup(of: Void.self) { g in
                for _ in 0..<50 {
                    g.addTask {
                        results.append(await sem.acquire(timeout: .nanoseconds(1)))
                        finished.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        // Nobody releases: every wait must end by its own timeout. The bound is generous: the 50
        // waiters and their timers need the cooperative pool, which other suites running in
        // parallel on 2 cores may hold for a while.
        let allBack = await CoreTestKit.eventually(.seconds(45)) { finished.load(ordering: .relaxed) == 50 }
        #expect(allBack, "\(50 - finished.load(ordering: .relaxed)) of 50 waits with a 1 ns timeout never timed out")
        // Unstick any waiter that did not time out so the test ends.
        while finished.load(ordering: .relaxed) < 50 {
            sem.release()
            try? await Task.sleep(for: .milliseconds(5))
            if sem.held == 0 { _ = sem.tryAcquire() }
        }
        await waiters.value
        if allBack { #expect(results.all.allSatisfy { !$0 }, "a timed-out wait reported a permit") }
    }

    @Test("10,000 randomly cancelled or timed-out waits leave no permit held and nobody waiting",
          .timeLimit(.minutes(1)))
    func tenThousandCancelledWaits() async {
        let sem = FairSemaphore(limit: 3)
        let got = Shared<Int>(0)
        let probe = ConcurrencyProbe()
        for batch in 0..<10 {
            await withTaskGroup(of: Void.self) { group in
                var tasks: [Task<Void, Never>] = []
                for i in 0..<1000 {
                    let timeout: Duration = .microseconds(Int64.random(in: 1...3000))
                    let t = Task {
                        if await sem.acquire(timeout: timeout) {
                            probe.enter()
                            got.add(1, ordering: .relaxed)
                            if i % 7 == 0 { await Task.yield() }
                            probe.leave()
                            sem.release()
                        }
                    }
                    tasks.append(t)
                    if Bool.random() { group.addTask { await Task.yield(); t.cancel() } }
                }
                for t in tasks { await t.value }
            }
            #expect(sem.held == 0, "batch \(batch)")
            #expect(sem.waiting == 0, "batch \(batch)")
        }
        #expect(probe.maxSeen <= 3)
        #expect(got.load(ordering: .relaxed) > 0)
    }

    @Test("cancelled async runs waiting for admission never keep a permit", .timeLimit(.minutes(1)))
    func cancelledRunsReleasePermits() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 2 }
        try CoreTestKit.agent(rt, "quick") { call, _ in CoreTestKit.sleep(ms: 1); return call.setResult("1") }
        for round in 0..<5 {
            await withTaskGroup(of: Void.self) { group in
                var tasks: [Task<RunResult, Never>] = []
                for i in 0..<200 {
                    let user = "user-\(i % 5)"
                    let wait: Duration = .milliseconds(Int64.random(in: 1...20))
                    tasks.append(Task { await rt.run(RunRequest(plugin: "t", agent: "quick", userID: user, admissionWait: wait)) })
                    if Bool.random() { let t = tasks.last!; group.addTask { t.cancel() } }
                }
                for t in tasks {
                    let r = await t.value
                    if let code = r.error?.code { #expect([.overloaded, .cancelled].contains(code), "round \(round): \(code)") }
                }
            }
        }
        #expect(await CoreTestKit.eventually {
            (0..<5).allSatisfy { rt.users.existing("user-\($0)")?.admission.held == 0 && rt.users.existing("user-\($0)")?.admission.waiting == 0 }
        })
        #expect(await CoreTestKit.eventually { rt.global.held == 0 })
    }

    @Test("a run whose task is cancelled while it waits for admission ends cancelled, not overloaded",
          .timeLimit(.minutes(1)))
    func cancelledWhileWaitingIsCancelled() async throws {
        // On a manual clock the 10 s wait cannot run out first, however slow the machine is.
        let (rt, _) = CoreTestKit.manualRuntime { $0.perUserLimit = 1 }
        let gate = TestGate()
        try CoreTestKit.agent(rt, "hold") { call, _ in gate.wait(); return call.setResult("1") }
        let first = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "hold", userID: "hal")) { first.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        let waiter = Task { await rt.run(RunRequest(plugin: "t", agent: "hold", userID: "hal", admissionWait: .seconds(10))) }
        #expect(await CoreTestKit.eventually { rt.users.existing("hal")?.admission.waiting == 1 })
        waiter.cancel()
        let r = await waiter.value
        #expect(r.error?.code == .cancelled, "\(r.error?.description ?? "success")")
        #expect(rt.users.existing("hal")?.admission.waiting == 0)
        gate.release()
        #expect(await CoreTestKit.eventually { first.count == 1 && rt.users.existing("hal")?.admission.held == 0 })
    }

    @Test("a strictly sequential caller is never refused because of its own previous call", .timeLimit(.minutes(1)))
    func sequentialCallerNotOverloaded() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 1 }
        try CoreTestKit.agent(rt, "echo") { call, _ in call.setResult("1") }
        var refused = 0
        for _ in 0..<300 {
            let r = await rt.run(RunRequest(plugin: "t", agent: "echo", userID: "ivy"))
            if r.error?.code == .overloaded { refused += 1 }
        }
        // The previous call returned its result, so it is no longer in flight for this user.
        #expect(refused == 0, "\(refused) of 300 sequential calls were refused as overloaded")
        let blocking = Recorder<Int>()
        await CoreTestKit.onThreads(1) { _ in
            var n = 0
            for _ in 0..<300 where rt.runBlocking(RunRequest(plugin: "t", agent: "echo", userID: "ivy")).error?.code == .overloaded { n += 1 }
            blocking.append(n)
        }
        #expect(blocking.all == [0], "runBlocking: \(blocking.all) of 300 sequential calls refused")
    }

    @Test("the overloaded message names the limit", .timeLimit(.minutes(1)))
    func overloadedMessage() async throws {
        let rt = CoreTestKit.runtime { $0.perUserLimit = 1; $0.globalLimit = 2 }
        let gate = TestGate()
        try CoreTestKit.agent(rt, "hold") { call, _ in gate.wait(); return call.setResult("1") }
        let done = Recorder<RunResult>()
        rt.runDetached(RunRequest(plugin: "t", agent: "hold", userID: "erin")) { done.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        let perUser = await rt.run(RunRequest(plugin: "t", agent: "hold", userID: "erin"))
        #expect(perUser.error?.code == .overloaded)
        #expect(perUser.error?.message.contains("per-user limit") == true)
        #expect(perUser.error?.message.contains("1 call") == true)
        #expect(perUser.error?.message.contains("erin") == true)

        rt.runDetached(RunRequest(plugin: "t", agent: "hold", userID: "frank")) { done.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 2 })
        let global = await rt.run(RunRequest(plugin: "t", agent: "hold", userID: "grace"))
        #expect(global.error?.code == .overloaded)
        #expect(global.error?.message.contains("global limit") == true)
        #expect(global.error?.message.contains("2 calls") == true)
        // The refused user's own permit was given back.
        #expect(rt.users.existing("grace")?.admission.held == 0)
        gate.release()
        #expect(await CoreTestKit.eventually { done.count == 2 })
        #expect(rt.stats(user: "erin")?.failures[.overloaded] == 1)
    }
}
