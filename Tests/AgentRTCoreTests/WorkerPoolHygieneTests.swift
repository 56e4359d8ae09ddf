import Synchronization
import Testing
@testable import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// What an item saw of its thread.
struct ThreadStateSnapshot: Sendable, CustomStringConvertible {
    var thread = 0
    var rounding: Int32 = 0
    var oneThird = 0.0
    var blocked: [Int32] = []
    var globalLocale = false
    var cancelState: Int32 = -1
    var cancelType: Int32 = -1
    var errno: Int32 = -1
    var changes: [ThreadHygiene.Aspect] = []

    /// The calling thread's state, compared with `baseline`.
    static func take(against baseline: ThreadHygiene) -> ThreadStateSnapshot {
        var s = ThreadStateSnapshot()
        s.errno = Glibc.errno   // first: the calls below may change it
        s.thread = ThreadIdentity.current
        s.rounding = fegetround()
        s.oneThird = oneThirdAtRunTime()
        s.blocked = blockedSignals()
        s.globalLocale = uselocale(nil) == ThreadHygiene.globalLocale
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &s.cancelState)
        pthread_setcancelstate(s.cancelState, nil)
        pthread_setcanceltype(Int32(PTHREAD_CANCEL_DEFERRED), &s.cancelType)
        pthread_setcanceltype(s.cancelType, nil)
        s.changes = baseline.changes()
        return s
    }

    /// The signals the calling thread blocks.
    static func blockedSignals() -> [Int32] {
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        return (1..<Int32(65)).filter { sigismember(&mask, $0) == 1 }
    }

    /// Round to nearest, the signals of the thread that made the pool blocked (`originalMask`)
    /// and no others, the global locale, cancellation enabled and deferred, errno 0.
    func isClean(originalMask: [Int32]) -> Bool {
        rounding == (FE_TONEAREST as Int32) && oneThird == 0.3333333333333333 && blocked == originalMask
            && globalLocale && cancelState == Int32(PTHREAD_CANCEL_ENABLE)
            && cancelType == Int32(PTHREAD_CANCEL_DEFERRED) && errno == 0 && changes.isEmpty
    }

    var description: String {
        "rounding \(rounding) 1/3=\(oneThird) blocked \(blocked) global locale \(globalLocale) "
            + "cancel \(cancelState)/\(cancelType) errno \(errno) changes \(changes)"
    }
}

/// Ways a plugin leaves its thread changed.
enum ThreadDirt: String, CaseIterable, Sendable {
    case roundingMode, signalMask, locale, cancellation, errno

    /// Changes the calling thread (Swift calls into Glibc, as a Swift plugin would).
    func apply() {
        switch self {
        case .roundingMode: fesetround(FE_UPWARD as Int32)
        case .signalMask:
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, ThreadDirt.unblockedSignal())
            pthread_sigmask(SIG_BLOCK, &set, nil)
        case .locale: uselocale(ThreadDirt.cLocale.locale)
        case .cancellation:
            pthread_setcanceltype(Int32(PTHREAD_CANCEL_ASYNCHRONOUS), nil)
            pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), nil)
        case .errno: Glibc.errno = 42
        }
    }

    /// A signal the calling thread does not block yet (Swift's cooperative threads, which the
    /// pools here are made from, block most signals).
    static func unblockedSignal() -> Int32 {
        let blocked = ThreadStateSnapshot.blockedSignals()
        return [SIGWINCH, SIGURG, SIGPROF, SIGPIPE, SIGSYS, SIGUSR1].first { !blocked.contains($0) } ?? SIGUSR1
    }

    /// One "C" numeric locale for the process (never freed: threads may still use it).
    private struct LocaleHolder: @unchecked Sendable { let locale: locale_t? }
    private static let cLocale = LocaleHolder(locale: newlocale(1 << LC_NUMERIC, "C", nil))
}

@Suite("Worker pool thread hygiene")
struct WorkerPoolHygieneTests {
    @Test("each kind of thread state a plugin changes is reset before the next item on that worker",
          .timeLimit(.minutes(1)), arguments: ThreadDirt.allCases)
    func nextItemSeesCleanState(_ dirt: ThreadDirt) async {
        let original = ThreadStateSnapshot.blockedSignals()   // the pool's baseline comes from this thread
        let pool = WorkerPool(initialThreads: 1, maxThreads: 1, spinIterations: 0)
        defer { pool.shutdown() }
        let dirtied = Box<ThreadStateSnapshot>()
        let next = Box<ThreadStateSnapshot>()
        let baseline = pool.baseline
        pool.submit(ProbeItem {
            dirt.apply()
            dirtied.value = .take(against: baseline)
        })
        pool.submit(ProbeItem { next.value = .take(against: baseline) })
        #expect(await CoreTestKit.eventually(.seconds(10)) { next.value != nil })
        guard let before = dirtied.value, let after = next.value else {
            Issue.record("items did not run")
            return
        }
        #expect(!before.isClean(originalMask: original), "the dirty item did change its thread: \(before)")
        #expect(before.thread == after.thread, "one worker runs both items")
        #expect(after.isClean(originalMask: original), "\(after)")
    }

    @Test("C plugin code that changes every kind of thread state leaves nothing behind", .timeLimit(.minutes(1)))
    func cPluginStateIsReset() async throws {
        let fixture = try await ThreadAbuseFixture.load()
        let original = ThreadStateSnapshot.blockedSignals()   // the pool's baseline comes from this thread
        let pool = WorkerPool(initialThreads: 1, maxThreads: 1, spinIterations: 0)
        defer { pool.shutdown() }
        let baseline = pool.baseline
        let dirtied = Box<(ThreadStateSnapshot, Int32, Double)>()
        let next = Box<(ThreadStateSnapshot, Int32, Double)>()
        pool.submit(ProbeItem {
            fixture.dirtyThread(ThreadDirt.unblockedSignal())
            dirtied.value = (.take(against: baseline), fixture.enabledTraps(), fixture.oneThird())
        })
        pool.submit(ProbeItem { next.value = (.take(against: baseline), fixture.enabledTraps(), fixture.oneThird()) })
        #expect(await CoreTestKit.eventually(.seconds(10)) { next.value != nil })
        guard let (before, beforeTraps, beforeThird) = dirtied.value, let (after, traps, third) = next.value else {
            Issue.record("items did not run")
            return
        }
        #expect(before.thread == after.thread)
        #expect(beforeTraps != 0 && beforeThird == 0.33333333333333337 && before.blocked != original
                && !before.globalLocale)
        #expect(Set(before.changes) == Set(ThreadHygiene.Aspect.allCases))
        #expect(after.isClean(originalMask: original), "\(after)")
        #expect(traps == 0, "FP traps left enabled")
        #expect(third == 0.3333333333333333)
    }

    @Test("a worker started from a thread with changed state still starts clean", .timeLimit(.minutes(1)))
    func workersStartFromTheBaseline() async {
        let original = ThreadStateSnapshot.blockedSignals()   // the pool's baseline comes from this thread
        let pool = WorkerPool(initialThreads: 1, maxThreads: 4, spinIterations: 0)
        defer { pool.shutdown() }
        let baseline = pool.baseline
        let gate = TestGate()
        pool.submit(ProbeItem { gate.wait(max: .seconds(30)) })
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 1 })
        let seen = Box<ThreadStateSnapshot>()
        // The only worker is busy, so this submission starts a thread, which inherits the
        // submitting thread's FP environment and signal mask.
        await CoreTestKit.onThreads(1) { _ in
            ThreadDirt.roundingMode.apply()
            ThreadDirt.signalMask.apply()
            pool.submit(ProbeItem { seen.value = .take(against: baseline) })
        }
        #expect(await CoreTestKit.eventually(.seconds(10)) { seen.value != nil })
        gate.release()
        #expect(pool.threadCount >= 2)
        if let s = seen.value { #expect(s.isClean(originalMask: original), "\(s)") }
    }

    @Test("ThreadHygiene.restore undoes every change on the capturing thread", .timeLimit(.minutes(1)))
    func restoreOnAnyThread() async {
        let result = Box<(dirty: [ThreadHygiene.Aspect], clean: [ThreadHygiene.Aspect], errno: Int32, third: Double)>()
        await CoreTestKit.onThreads(1) { _ in
            Glibc.errno = 7
            let saved = ThreadHygiene.capture()
            for dirt in ThreadDirt.allCases { dirt.apply() }
            let dirty = saved.changes()
            saved.restore()
            result.value = (dirty, saved.changes(), Glibc.errno, oneThirdAtRunTime())
        }
        let r = result.value
        #expect(r.map { Set($0.dirty) } == Set(ThreadHygiene.Aspect.allCases))
        #expect(r?.clean == [])
        #expect(r?.errno == 7)
        #expect(r?.third == 0.3333333333333333)
    }
}
