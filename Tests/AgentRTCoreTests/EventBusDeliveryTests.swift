import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// Callback subscriptions on the shared delivery pool: few threads for many subscriptions,
/// order, exclusivity, and the `cancel` contract.
@Suite("Event bus delivery pool")
struct EventBusDeliveryTests {
    @Test("10,000 callback subscriptions get every event in order on at most 16 delivery threads",
          .timeLimit(.minutes(3)))
    func tenThousandSubscriptions() async throws {
        let users = 1_000, perUser = 10, events = 5
        let bus = EventBus(replayCapacity: 64)
        let baseThreads = EventTestKit.threadNames().count
        let logs = (0..<(users * perUser)).map { _ in SeqLog() }
        var subs: [CallbackSubscription] = []
        subs.reserveCapacity(logs.count)
        for (i, log) in logs.enumerated() {
            subs.append(bus.subscribe(userID: "user-\(i / perUser)") { log.record($0) })
        }
        let peakDelivery = Shared<Int>(0)
        let peakTotal = Shared<Int>(0)
        @Sendable func sample() {
            let names = EventTestKit.threadNames()
            peakDelivery.store(max(peakDelivery.load(), names.filter { $0.hasPrefix("agentrt-ev") }.count))
            peakTotal.store(max(peakTotal.load(), names.count))
        }
        await CoreTestKit.onThreads(1) { _ in
            for round in 1...events {
                for u in 0..<users { EventTestKit.publish(bus, user: "user-\(u)", count: 1, from: round) }
                sample()
            }
        }
        let done = await CoreTestKit.eventually(.seconds(60)) {
            sample()
            return logs.allSatisfy { $0.count >= events }
        }
        #expect(done, "\(logs.filter { $0.count < events }.count) subscriptions still waiting")
        let wrong = logs.indices.filter { logs[$0].all != [1, 2, 3, 4, 5] || logs[$0].usersSeen != ["user-\($0 / perUser)"] }
        let example = wrong.first.map { "#\($0): \(logs[$0].all)" } ?? ""
        #expect(wrong.isEmpty, "\(wrong.count) subscriptions got wrong events, e.g. \(example)")
        sample()
        // The delivery pool's own threads, by name: the exact bound.
        #expect(peakDelivery.load() <= DeliveryPool.hardThreadCap)
        #expect(DeliveryPool.shared.threadCount <= DeliveryPool.hardThreadCap)
        // All of /proc/self/task: run alone this stays within base + 16, but suites running in
        // parallel start and end hundreds of threads of their own meanwhile, so the bound here
        // only rules out a thread per subscription (which would add 10,000).
        #expect(peakTotal.load() < baseThreads + 2_000, "threads: \(baseThreads) before, \(peakTotal.load()) at the peak")
        print("10,000 subscriptions: \(peakDelivery.load()) delivery threads at the peak; "
              + "process threads \(baseThreads) before, \(peakTotal.load()) at the peak")
        for s in subs { s.cancel() }
        #expect(bus.stream(for: "user-0").subscriberCount == 0)
    }

    @Test("a callback runs on a delivery thread, in order, never concurrently with itself",
          .timeLimit(.minutes(1)))
    func exclusiveAndOrdered() async {
        let bus = EventBus(replayCapacity: 1 << 16, replayBytes: 1 << 30)   // nobody falls behind
        let subs = 8, perPublisher = 2_000, publishers = 4
        let probes = (0..<subs).map { _ in ConcurrencyProbe() }
        let logs = (0..<subs).map { _ in SeqLog() }
        let foreignThread = Shared<Bool>(false)
        let emitters = Locked<Set<UInt>>([])
        let subscriptions = (0..<subs).map { i in
            bus.subscribe(userID: "alice") { e in
                probes[i].enter()
                if !EventTestKit.currentThreadName().hasPrefix("agentrt-events") { foreignThread.store(true) }
                if emitters.withLock({ $0.contains(UInt(bitPattern: Int(bitPattern: pthread_self()))) }) {
                    foreignThread.store(true)
                }
                logs[i].record(e)
                if e.seq % 97 == 0 { sched_yield() }
                probes[i].leave()
            }
        }
        // Several emitters at once: wakes race with runs in progress.
        await CoreTestKit.onThreads(publishers) { _ in
            emitters.withLock { _ = $0.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
            for _ in 0..<perPublisher {
                EventTestKit.publish(bus, user: "alice", count: 1)
                if Int.random(in: 0..<64) == 0 { sched_yield() }
            }
        }
        let total = UInt64(publishers * perPublisher)
        #expect(await CoreTestKit.eventually(.seconds(20)) { logs.allSatisfy { $0.count == Int(total) } })
        for i in 0..<subs {
            let seqs = logs[i].all
            let firstWrong = zip(seqs, 1...total).first { $0 != $1 }.map { "got \($0) for \($1)" } ?? "none"
            let inOrder = seqs == Array(1...total)
            #expect(inOrder, "subscription \(i): \(seqs.count) events, first out of place: \(firstWrong)")
            #expect(probes[i].maxSeen == 1, "subscription \(i) ran concurrently with itself")
        }
        #expect(!foreignThread.load(), "a callback ran outside the delivery pool")
        for s in subscriptions { s.cancel() }
    }

    @Test("after cancel returns, no callback of that subscription is running or starts", .timeLimit(.minutes(2)))
    func cancelContract() async {
        let bus = EventBus(replayCapacity: 256)
        let violations = Shared<Int>(0)
        let stop = Shared<Bool>(false)
        // A publisher keeps every subscription busy while the loop cancels.
        let publisher = NativeThread(name: "test-publisher") {
            while !stop.load() { EventTestKit.publish(bus, user: "churn", count: 1) }
        }
        await CoreTestKit.onThreads(2) { t in
            for i in 0..<300 {
                let cancelled = Shared<Bool>(false)
                let inside = Shared<Int>(0)
                let sub = bus.subscribe(userID: "churn") { _ in
                    inside.add(1)
                    if cancelled.load() { violations.add(1) }
                    if (i + t) % 3 == 0 { sched_yield() }
                    inside.add(-1)
                }
                for _ in 0..<(i % 7) { sched_yield() }
                sub.cancel()
                if inside.load() != 0 { violations.add(1) }
                cancelled.store(true)
            }
        }
        stop.store(true)
        publisher.join()
        #expect(violations.load() == 0)
        #expect(bus.stream(for: "churn").subscriberCount == 0)
    }

    @Test("cancel from inside the callback returns at once and ends delivery", .timeLimit(.minutes(1)))
    func cancelFromInsideCallback() async throws {
        let bus = EventBus()
        let box = Box<CallbackSubscription>()
        let got = SeqLog()
        let returned = Shared<Bool>(false)
        let sub = bus.subscribe(userID: "alice") { e in
            got.record(e)
            if e.seq == 3 {
                box.value?.cancel()    // would wait for itself forever if it did not return at once
                returned.store(true)
            }
        }
        box.value = sub
        EventTestKit.publish(bus, user: "alice", count: 10)
        #expect(await CoreTestKit.eventually(.seconds(10)) { returned.load() })
        // A second subscriber sees the later events, so the pool has had them to deliver.
        let later = SeqLog()
        let witness = bus.subscribe(userID: "alice", afterSeq: 10) { later.record($0) }
        EventTestKit.publish(bus, user: "alice", count: 5, from: 11)
        #expect(await CoreTestKit.eventually(.seconds(10)) { later.count == 5 })
        #expect(got.all.last == 3)
        #expect(got.all.count <= 3)
        witness.cancel()
        box.value = nil
    }

    @Test("a released callback subscription stops, unregisters and frees its callback", .timeLimit(.minutes(1)))
    func releasedSubscriptionIsFreed() async throws {
        let bus = EventBus()
        let stream = bus.stream(for: "alice")
        let freedDropped = Shared<Bool>(false)
        let freedCancelled = Shared<Bool>(false)
        let delivered = Shared<Int>(0)
        do {
            let trackerA = ReleaseTracker(freedDropped)
            let trackerB = ReleaseTracker(freedCancelled)
            let dropped = bus.subscribe(userID: "alice") { _ in trackerA.touch(); delivered.add(1) }
            let cancelled = bus.subscribe(userID: "alice") { _ in trackerB.touch(); delivered.add(1) }
            EventTestKit.publish(bus, user: "alice", count: 3)
            #expect(await CoreTestKit.eventually(.seconds(10)) { delivered.load() == 6 })
            cancelled.cancel()
            _ = dropped
        }
        // The last reference to each went away: its callback (and what it captured) is freed.
        #expect(await CoreTestKit.eventually(.seconds(10)) { freedDropped.load() && freedCancelled.load() },
                "a subscription's callback is still retained")
        #expect(stream.subscriberCount == 0)
        EventTestKit.publish(bus, user: "alice", count: 3, from: 4)
        #expect(delivered.load() == 6)
    }

    @Test("a wake during delivery is never lost", .timeLimit(.minutes(1)))
    func noLostWakes() async {
        // Each event is published only after the previous one was delivered, so the subscription
        // flips between idle, scheduled and running on every event: a lost wake leaves it idle
        // with an event in the buffer, and the loop stops making progress.
        let bus = EventBus()
        let got = Shared<Int>(0)
        let stalled = Shared<Bool>(false)
        let sub = bus.subscribe(userID: "ping") { _ in got.add(1) }
        await CoreTestKit.onThreads(1) { _ in
            for i in 1...3_000 {
                EventTestKit.publish(bus, user: "ping", count: 1, from: i)
                let deadline = MonotonicTime.nanos() &+ 10_000_000_000
                while got.load() < i {
                    if MonotonicTime.nanos() > deadline { stalled.store(true); return }
                    sched_yield()
                }
            }
        }
        #expect(!stalled.load(), "delivery stalled after \(got.load()) events")
        sub.cancel()
    }
}
