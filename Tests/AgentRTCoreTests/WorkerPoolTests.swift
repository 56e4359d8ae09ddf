import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

@Suite("Worker pool")
struct WorkerPoolTests {
    // MARK: Dead workers

    @Test("a worker ended by pthread_exit (Swift) is replaced; its item is told once", .timeLimit(.minutes(2)))
    func pthreadExitFromSwift() async {
        await checkDyingItems(count: 50) { pthread_exit(nil) }
    }

    @Test("a worker cancelled inside its item (Swift) is replaced; its item is told once", .timeLimit(.minutes(2)))
    func cancellationFromSwift() async {
        await checkDyingItems(count: 30) {
            pthread_cancel(pthread_self())
            pthread_testcancel()
        }
    }

    @Test("a worker ended by pthread_exit in C plugin code is replaced", .timeLimit(.minutes(2)))
    func pthreadExitFromC() async throws {
        let fixture = try await ThreadAbuseFixture.load()
        await checkDyingItems(count: 50) { fixture.exitThread() }
    }

    @Test("a worker cancelled in C plugin code is replaced", .timeLimit(.minutes(2)))
    func cancellationFromC() async throws {
        let fixture = try await ThreadAbuseFixture.load()
        await checkDyingItems(count: 30) { fixture.cancelSelf() }
    }

    @Test("dying and ordinary items submitted together from several threads all complete", .timeLimit(.minutes(2)))
    func dyingAmongOrdinaryItems() async {
        let pool = WorkerPool(initialThreads: 2, maxThreads: 6, spinIterations: 200, idleTimeout: .milliseconds(20))
        defer { pool.shutdown() }
        let items = (0..<240).map { i in i % 6 == 0 ? ProbeItem { pthread_exit(nil) } : ProbeItem { sched_yield() } }
        await CoreTestKit.onThreads(4) { t in
            for i in stride(from: t, to: items.count, by: 4) { pool.submit(items[i]) }
        }
        let dying = items.enumerated().filter { $0.offset % 6 == 0 }.map(\.element)
        let ordinary = items.enumerated().filter { $0.offset % 6 != 0 }.map(\.element)
        let done = await CoreTestKit.eventually(.seconds(30)) {
            dying.allSatisfy { $0.exitNotices == 1 } && ordinary.allSatisfy { $0.runs == 1 }
        }
        #expect(done, "\(pool.counts)")
        #expect(pool.threadsReplaced == dying.count)
        #expect(ordinary.allSatisfy { $0.exitNotices == 0 && $0.runs == 1 })
        #expect(await settles(pool, to: 2))
    }

    /// Submits `count` items that end their thread with `die`, then checks that each was told
    /// exactly once on another thread, that the pool's counts came back and that it still works.
    private func checkDyingItems(count: Int, _ die: @escaping @Sendable () -> Void) async {
        let pool = WorkerPool(initialThreads: 2, maxThreads: 8, spinIterations: 200, idleTimeout: .milliseconds(20))
        defer { pool.shutdown() }
        let dying = (0..<count).map { _ in ProbeItem(die) }
        for item in dying { pool.submit(item) }
        let told = await CoreTestKit.eventually(.seconds(30)) { dying.allSatisfy { $0.exitNotices >= 1 } }
        #expect(told, "\(dying.filter { $0.exitNotices == 0 }.count) items never told; \(pool.counts)")
        #expect(pool.threadsReplaced == count)
        #expect(await settles(pool, to: 2))

        let later = (0..<10).map { _ in ProbeItem() }
        for item in later { pool.submit(item) }
        #expect(await CoreTestKit.eventually(.seconds(10)) { later.allSatisfy { $0.runs == 1 } })
        #expect(dying.allSatisfy { $0.runs == 1 && $0.exitNotices == 1 })
        #expect(dying.allSatisfy { $0.notifiedOn != $0.ranOn })
        #expect(await settles(pool, to: 2))
    }

    /// Waits until the pool has `threads` workers, all idle, and nothing queued.
    private func settles(_ pool: WorkerPool, to threads: Int) async -> Bool {
        let ok = await CoreTestKit.eventually(.seconds(10)) {
            let c = pool.counts
            return c.threads == threads && c.available == threads && c.pending == 0 && c.wakeups <= c.parked
        }
        if !ok { Issue.record("pool did not settle at \(threads) threads: \(pool.counts)") }
        return ok
    }

    // MARK: Lost wake-ups

    @Test("no item of a burst is left queued beside a parked worker", .timeLimit(.minutes(5)))
    func burstsNeverStrandAnItem() async {
        // A long spin phase keeps a spinner running when each burst arrives while the other
        // workers are parked: where the old protocol let the spinner take one item and left the
        // rest queued beside a parked worker nobody woke. Base workers park without a time-out,
        // and every item of a burst waits until all of them started, so a lost wake-up is a hang
        // that the barrier gives up on after 10 s. No timing is asserted.
        let pool = WorkerPool(initialThreads: 2, maxThreads: 64, spinIterations: 2_000_000, idleTimeout: .seconds(60))
        defer { pool.shutdown() }
        for burst in 0..<300 {
            let size = 2 + burst % 7
            let submitters = 1 + (burst / 7) % min(size, 4)
            let barrier = BurstBarrier(size: size)
            let items = (0..<size).map { _ in ProbeItem { barrier.arriveAndWait(limit: .seconds(10)) } }
            await CoreTestKit.onThreads(submitters) { t in
                for i in stride(from: t, to: size, by: submitters) { pool.submit(items[i]) }
            }
            _ = await CoreTestKit.eventually(.seconds(30)) { barrier.outcome != nil }
            guard barrier.outcome == true else {
                let started = barrier.startedBeforeTimeOut
                Issue.record("burst \(burst): \(started) of \(size) items started in 10 s, the rest waited (\(pool.counts))")
                return
            }
        }
    }

    // MARK: Shrinking

    @Test("workers beyond initialThreads exit after the idle timeout", .timeLimit(.minutes(2)))
    func surplusWorkersRetire() async {
        let pool = WorkerPool(initialThreads: 2, maxThreads: 16, spinIterations: 200, idleTimeout: .milliseconds(50))
        defer { pool.shutdown() }
        let gate = TestGate()
        let blocked = (0..<6).map { _ in ProbeItem { gate.wait(max: .seconds(30)) } }
        for item in blocked { pool.submit(item) }
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 6 })
        #expect(pool.threadCount >= 6, "the pool grows while every worker is busy")
        gate.release()
        #expect(await settles(pool, to: 2))
        #expect(pool.threadsRetired >= 4)

        // The pool still grows and runs work after shrinking.
        let again = TestGate()
        let second = (0..<4).map { _ in ProbeItem { again.wait(max: .seconds(30)) } }
        for item in second { pool.submit(item) }
        #expect(await CoreTestKit.eventually(.seconds(10)) { again.arrived == 4 })
        again.release()
        #expect(await settles(pool, to: 2))
    }

    @Test("shutdown stops idle workers", .timeLimit(.minutes(1)))
    func shutdownStopsIdleWorkers() async {
        let pool = WorkerPool(initialThreads: 3, maxThreads: 8, spinIterations: 200)
        let item = ProbeItem()
        pool.submit(item)
        #expect(await CoreTestKit.eventually(.seconds(10)) { item.runs == 1 })
        pool.shutdown()
        #expect(await CoreTestKit.eventually(.seconds(10)) { pool.threadCount == 0 })
    }
}
