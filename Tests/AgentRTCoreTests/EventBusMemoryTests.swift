import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// Heap use across rounds of subscribe / publish / unsubscribe must level off: nothing a
/// subscription or a delivered event allocates may outlive it (beyond the bounded replay buffer).
/// Heap readings are process-wide: in a parallel run other suites' allocations land in them, so
/// these run only when asked, alone in their process (`.ci/run` and the README do that:
/// `AGENTRT_MEMORY_TESTS=1 swift test --skip-build --filter MemoryTests`).
enum MemoryTestGate {
    static let alone = Environment.flag("AGENTRT_MEMORY_TESTS")
}

@Suite("Event bus memory", .enabled(if: MemoryTestGate.alone, "set AGENTRT_MEMORY_TESTS=1 and run the memory suites alone"))
struct EventBusMemoryTests {
    @Test("subscribe, publish, unsubscribe and drop in rounds: heap in use does not keep growing",
          .timeLimit(.minutes(3)))
    func heapLevelsOff() async throws {
        // Rings of one round's events: the persistent users' buffers are full after the first
        // round, so retained events cannot be mistaken for a leak.
        let bus = EventBus(replayCapacity: 10)
        let rounds = 20, persistentUsers = 40, freshUsers = 40, subsPerUser = 12, events = 10
        var heap: [Int] = []
        for round in 0..<rounds {
            let users = (0..<persistentUsers).map { "kept-\($0)" } + (0..<freshUsers).map { "gone-\(round)-\($0)" }
            var callbacks: [(CallbackSubscription, SeqLog)] = []
            var asyncSubs: [EventSubscription] = []
            for u in users {
                for _ in 0..<subsPerUser {
                    let log = SeqLog()
                    callbacks.append((bus.subscribe(userID: u) { log.record($0) }, log))
                }
                asyncSubs.append(bus.subscribe(userID: u))
            }
            for u in users { EventTestKit.publish(bus, user: u, count: events) }
            let delivered = await CoreTestKit.eventually(.seconds(30)) {
                callbacks.allSatisfy { $0.1.count == events }
            }
            #expect(delivered, "round \(round): delivery incomplete")
            #expect(callbacks.allSatisfy { $0.1.all == Array(1...UInt64(events)) || round > 0 })
            var polled = 0
            for s in asyncSubs { while s.poll() != nil { polled += 1 } }
            #expect(polled == asyncSubs.count * events)
            for (s, _) in callbacks { s.cancel() }
            for s in asyncSubs { s.cancel() }
            callbacks.removeAll()
            asyncSubs.removeAll()
            for u in users where u.hasPrefix("gone-") { #expect(bus.dropStream(for: u)) }
            heap.append(try #require(EventTestKit.heapInUse(), "mallinfo2 is not available here"))
        }
        #expect(bus.streamCount == persistentUsers)
        // The lowest reading of a window ignores other suites' short-lived allocations.
        let early = heap[3..<8].min()!, late = heap[(rounds - 5)..<rounds].min()!
        let subsPerRound = (persistentUsers + freshUsers) * (subsPerUser + 1)
        let perSubscription = Double(late - early) / Double((rounds - 5 - 3) * subsPerRound)
        print("event bus heap: rounds 4-8 min \(early) B, rounds 16-20 min \(late) B, "
              + "\((perSubscription * 10).rounded() / 10) B per subscription-round")
        // A leak of ~500 B per subscription (plus the dropped users' streams) would grow the heap
        // by ~7 MB between the windows; the slack absorbs allocator and other-suite noise.
        #expect(late - early < 2 << 20, "heap grew \(late - early) B: \(heap)")
    }
}

enum Environment {
    /// Whether the environment variable `name` is set to 1.
    static func flag(_ name: String) -> Bool {
        guard let v = getenv(name) else { return false }
        return String(cString: v) == "1"
    }
}
