import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting
#if canImport(Glibc)
import Glibc
#endif

/// Memory of sessions: after many users' sessions are opened and closed, no instance is left
/// alive and the heap did not grow by anything like the instances' size.
@Suite("Session memory", .enabled(if: MemoryTestGate.alone, "set AGENTRT_MEMORY_TESTS=1 and run the memory suites alone"))
struct SessionMemoryTests {
    @Test("opening and closing many sessions leaves nothing open and no memory held", .timeLimit(.minutes(1)))
    func manySessions() async throws {
        // Each instance holds 512 KiB (allocated, never touched), so an instance the runtime
        // keeps after its session closed shows in the heap; weak references show each one.
        let (rt, _) = CoreTestKit.manualRuntime { $0.perUserLimit = 8; $0.admissionWait = .seconds(10) }
        let agent = PayloadSessions()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "s", hasSessionHooks: true), implementation: agent)
        let perRound = 128
        func oneRound(_ n: Int) async {
            await withTaskGroup(of: Void.self) { g in
                for w in 0..<8 {
                    g.addTask {
                        for k in 0..<(perRound / 8) {
                            _ = await rt.run(RunRequest(plugin: "t", agent: "s", userID: "many", sessionID: "s-\(n)-\(w)-\(k)"))
                        }
                    }
                }
            }
            #expect(rt.listUsers().first?.sessions.count == perRound, "round \(n)")
            #expect(rt.removeUser("many"))
            #expect(await CoreTestKit.eventually { agent.closes.load() == agent.opens.load() }, "round \(n)")
        }
        await oneRound(0)   // warm-up: first-use allocations of the runtime and the test machinery
        #expect(await CoreTestKit.eventually { agent.live.load() == 0 })
        let before = try #require(heapBytes(), "mallinfo2 is not available here")
        let rounds = 6
        for n in 1...rounds { await oneRound(n) }
        #expect(agent.opens.load() == perRound * (rounds + 1))
        #expect(agent.closes.load() == agent.opens.load())
        #expect(!agent.closedTwice)
        #expect(rt.userCount == 0)
        // Every instance is gone once closed (nothing in the runtime keeps one).
        #expect(await CoreTestKit.eventually { agent.live.load() == 0 }, "\(agent.live.load()) instances still alive")
        // Heap growth is far below one round of instances (64 MiB); a leak of every instance would
        // be 384 MiB. The slack absorbs what tests running in parallel allocate meanwhile.
        let grown = try #require(heapBytes()) - before
        #expect(grown < 48 << 20, "the heap grew by \(grown >> 20) MiB over \(rounds) rounds of \(perRound) sessions")
    }
}

/// Bytes in use from malloc: mallinfo2()'s `uordblks` (heap) + `hblkhd` (mmapped chunks), nil
/// where it cannot be read. Swift's Glibc module does not import <malloc.h>, so the function is
/// found with dlsym; on x86-64 System V a function returning a struct this large writes it
/// through a hidden pointer passed as the first argument, which is exactly a call with one
/// pointer argument.
private func heapBytes() -> Int? {
#if arch(x86_64) && os(Linux)
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallinfo2") else { return nil }
    typealias Mallinfo2 = @convention(c) (UnsafeMutablePointer<Int>) -> UnsafeMutableRawPointer?
    let mallinfo2 = unsafeBitCast(sym, to: Mallinfo2.self)
    // struct mallinfo2 { size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost; }
    var fields = [Int](repeating: 0, count: 10)
    _ = fields.withUnsafeMutableBufferPointer { mallinfo2($0.baseAddress!) }
    return fields[7] + fields[4]
#else
    return nil
#endif
}

/// Session instances that each hold a large allocation, counted while alive.
private final class PayloadSessions: AgentImplementation, @unchecked Sendable {
    let opens = Shared<Int>(0)
    let closes = Shared<Int>(0)
    let live = Shared<Int>(0)
    private let closedIDs = Recorder<Int>()

    /// Allocated for an instance and freed with it.
    final class Payload: @unchecked Sendable {
        let bytes: UnsafeMutableRawPointer
        let id: Int
        let live: Shared<Int>
        init(id: Int, live: Shared<Int>) {
            self.id = id
            self.live = live
            bytes = UnsafeMutableRawPointer.allocate(byteCount: 512 << 10, alignment: 16)
            live.add(1)
        }
        deinit {
            bytes.deallocate()
            live.add(-1)
        }
    }

    var hasSessionHooks: Bool { true }
    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        AgentInstance(value: Payload(id: opens.add(1).newValue, live: live))
    }
    func closeSession(_ instance: AgentInstance) {
        closedIDs.append((instance.value as! Payload).id)
        closes.add(1)
    }
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        call.setResult("\((instance.value as! Payload).id)")
    }
    var closedTwice: Bool { Set(closedIDs.all).count != closedIDs.count }
}
