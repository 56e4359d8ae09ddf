import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// A bus on a small pool of its own, so thread counts and scheduling are the test's alone.
private func smallPoolBus(maxThreads: Int, baseWorkers: Int, replayCapacity: Int = 1024,
                          name: String) -> (EventBus, DeliveryPool) {
    let pool = DeliveryPool(name: name, watcherName: name + "-w", maxThreads: maxThreads, baseWorkers: baseWorkers,
                            stall: .milliseconds(5))
    return (EventBus(replayCapacity: replayCapacity, replayBytes: 1 << 30, deliveryPool: pool), pool)
}

@Suite("Delivery pool")
struct DeliveryPoolTests {
    @Test("callbacks blocked for seconds do not delay other subscriptions: the pool adds workers",
          .timeLimit(.minutes(1)))
    func blockedCallbacksDoNotDelayOthers() async throws {
        // One base worker; two callbacks block it and the next worker. The third subscription is
        // still served while both are blocked, by a worker the watcher added.
        let (bus, pool) = smallPoolBus(maxThreads: 4, baseWorkers: 1, name: "evt-grow")
        defer { pool.shutdown() }
        let gate = TestGate()
        let blockedA = bus.subscribe(userID: "a") { _ in gate.wait(max: .seconds(30)) }
        let blockedB = bus.subscribe(userID: "b") { _ in gate.wait(max: .seconds(30)) }
        let got = SeqLog()
        let free = bus.subscribe(userID: "c") { got.record($0) }
        EventTestKit.publish(bus, user: "a", count: 1)
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 1 })
        EventTestKit.publish(bus, user: "b", count: 1)
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 2 })
        EventTestKit.publish(bus, user: "c", count: 3)
        #expect(await CoreTestKit.eventually(.seconds(10)) { got.count == 3 },
                "a subscription waited behind blocked callbacks")
        #expect(got.all == [1, 2, 3])
        #expect(gate.arrived == 2, "the blocked callbacks were released early")
        #expect(pool.threadCount <= 4)
        gate.release()
        for s in [blockedA, blockedB, free] { s.cancel() }
    }

    @Test("the pool never exceeds its thread cap; work queued behind it runs once a callback returns",
          .timeLimit(.minutes(1)))
    func capIsHard() async throws {
        let (bus, pool) = smallPoolBus(maxThreads: 3, baseWorkers: 1, name: "evt-cap")
        defer { pool.shutdown() }
        let gate = TestGate()
        let logs = (0..<5).map { _ in SeqLog() }
        let subs = (0..<5).map { i in
            bus.subscribe(userID: "u\(i)") { e in
                gate.wait(max: .seconds(30))
                logs[i].record(e)
            }
        }
        for i in 0..<5 { EventTestKit.publish(bus, user: "u\(i)", count: 1) }
        // Two workers (cap 3 with the watcher) block; the other three wait.
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 2 })
        let settle = MonotonicTime.nanos() &+ 50_000_000
        while MonotonicTime.nanos() < settle { #expect(pool.threadCount <= 3); try await Task.sleep(for: .milliseconds(5)) }
        #expect(gate.arrived == 2)
        #expect(EventTestKit.threadNames().filter { $0.hasPrefix("evt-cap") }.count <= 3)
        gate.release()
        #expect(await CoreTestKit.eventually(.seconds(10)) { logs.allSatisfy { $0.all == [1] } })
        for s in subs { s.cancel() }
    }

    @Test("a subscription with a long backlog yields its worker to others after a slice", .timeLimit(.minutes(1)))
    func timeSlicing() async throws {
        // One worker and no room to grow: only slicing lets the second subscription in.
        let (bus, pool) = smallPoolBus(maxThreads: 2, baseWorkers: 1, replayCapacity: 20_000, name: "evt-slice")
        defer { pool.shutdown() }
        let gate = TestGate()
        let backlog = Shared<Int>(0)
        let seenByBacklogWhenOtherRan = Shared<Int>(-1)
        let busy = bus.subscribe(userID: "busy") { e in
            if e.seq == 1 { gate.wait(max: .seconds(30)) }
            backlog.add(1)
        }
        let other = bus.subscribe(userID: "other") { _ in seenByBacklogWhenOtherRan.store(backlog.load()) }
        EventTestKit.publish(bus, user: "busy", count: 1)
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 1 })
        EventTestKit.publish(bus, user: "busy", count: 9_999, from: 2)
        EventTestKit.publish(bus, user: "other", count: 1)
        gate.release()
        #expect(await CoreTestKit.eventually(.seconds(20)) { backlog.load() == 10_000 })
        #expect(await CoreTestKit.eventually(.seconds(10)) { seenByBacklogWhenOtherRan.load() >= 0 })
        #expect(seenByBacklogWhenOtherRan.load() < 10_000, "the other subscription waited for the whole backlog")
        #expect(seenByBacklogWhenOtherRan.load() <= pool.sliceEvents + DeliveryTask.batch)
        busy.cancel()
        other.cancel()
    }

    @Test("a slow subscriber falls back to the replay buffer, then gets stream_gap, without slowing others",
          .timeLimit(.minutes(1)))
    func slowSubscriberGetsGap() async throws {
        let (bus, pool) = smallPoolBus(maxThreads: 4, baseWorkers: 2, replayCapacity: 16, name: "evt-gap")
        defer { pool.shutdown() }
        let gate = TestGate()
        let slow = SeqLog()
        let gaps = Recorder<Event>()
        let fast = SeqLog()
        let slowSub = bus.subscribe(userID: "alice") { e in
            if e.kind == .streamGap { gaps.append(e) } else { slow.record(e) }
            if e.seq == 1 { gate.wait(max: .seconds(30)) }
        }
        let fastSub = bus.subscribe(userID: "alice") { fast.record($0) }
        EventTestKit.publish(bus, user: "alice", count: 1)
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 1 })
        // One at a time, each after the fast subscriber got the one before: it never falls
        // behind, while the slow one (blocked on event 1) is pushed out of the buffer.
        for i in 2...100 {
            EventTestKit.publish(bus, user: "alice", count: 1, from: i)
            let caughtUp = await CoreTestKit.eventually(.seconds(10)) { fast.count == i }
            #expect(caughtUp, "the fast subscriber waited behind the slow one at event \(i)")
            if !caughtUp { break }
        }
        gate.release()
        #expect(await CoreTestKit.eventually(.seconds(10)) { slow.all.last == 100 })
        #expect(fast.all == Array(1...100))
        let gap = try #require(gaps.all.first)
        #expect(gaps.count == 1)
        #expect(CoreTestKit.data(gap)["from_seq"] == 2 && CoreTestKit.data(gap)["to_seq"] == 84)
        #expect(slow.all == [1] + Array(85...100))
        slowSub.cancel()
        fastSub.cancel()
    }
}
