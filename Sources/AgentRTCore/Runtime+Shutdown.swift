#if canImport(Glibc)
import Glibc
#endif

/// Shutdown: every run ends and is reported exactly once before `shutdown()` returns.
extension Runtime {
    /// Stops the runtime, in this order:
    /// 1. new calls are refused (`cancelled`), the idle sweeper stops;
    /// 2. every run is cancelled; runs that ignore it are abandoned at the grace period;
    /// 3. every run's outcome is delivered, completion callbacks included (exactly once each,
    ///    with `cancelled` or `timeout` for the runs it ended);
    /// 4. every open session is closed (`session_close` once per instance; an instance still used
    ///    by an abandoned call closes when that call returns);
    /// 5. shutdown hooks run (plugins' `on_shutdown`), once each;
    /// 6. the watchdog and idle workers stop, users and streams are dropped.
    ///
    /// After it returns nothing of the host's (completion or event callbacks) is called.
    /// Idempotent: a second call returns at once. Called from inside a completion callback it
    /// does not wait for that callback.
    public func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sweeper.withLock { $0 }?.stop()
        let live = users.all.flatMap { u in u.lock.withLock { Array(u.inFlight.calls) } }
        for c in live { c.context.cancel(.shutdown(reason: "the runtime shut down")) }

        // Runs end on their own or are abandoned by the watchdog at cancel + grace (on the
        // runtime's clock); past that, and a margin of real time, they are abandoned here.
        let inHook = CompletionScope.depth
        let graceEnd = clock.nowNanos() &+ configuration.grace.nanoseconds
        if !waitUntil(outcomesAtMost: inHook, clockDeadline: graceEnd, realLimit: configuration.grace.nanoseconds &+ 2_000_000_000) {
            for c in live { c.abandon() }
        }
        _ = waitUntil(outcomesAtMost: inHook, clockDeadline: .max, realLimit: 5_000_000_000)

        for u in users.all {
            if let removed = users.remove(u.userID) { cleanup(removed, reason: "the runtime shut down") }
        }
        _ = waitUntilPluginWorkDone(realLimit: configuration.grace.nanoseconds &+ 2_000_000_000)
        let zombies = agentDescriptors.reduce(0) { n, d in n + (entry(d.plugin, d.name)?.stats.zombies.load(ordering: .relaxed) ?? 0) }
        let stillRunning = zombies > 0 || pluginWork.count.load(ordering: .acquiring) > 0
        if stillRunning {
            log(level: 3, "shutdown: \(zombies) abandoned calls still run plugin code; plugins are not shut down under them (on_shutdown skipped)")
        }
        let hooks = shutdownHooks.withLock { h in defer { h.removeAll() }; return h }
        for h in hooks { h(stillRunning) }

        watchdog.stop()
        pool.shutdown()
        events.dropAllStreams()
    }

    /// Waits until at most `n` outcomes are pending, or the runtime clock reaches
    /// `clockDeadline`, or `realLimit` real nanoseconds passed. True when the count was reached.
    private func waitUntil(outcomesAtMost n: Int, clockDeadline: UInt64, realLimit: UInt64) -> Bool {
        let realEnd = MonotonicTime.nanos() &+ realLimit
        quiescence.lock()
        defer { quiescence.unlock() }
        while pendingOutcomes.load(ordering: .acquiring) > n {
            if clock.nowNanos() >= clockDeadline || MonotonicTime.nanos() >= realEnd { return false }
            // Short real-time slices: the clock may be manual, and real time bounds the wait.
            _ = quiescent.wait(quiescence, untilNanos: min(realEnd, MonotonicTime.nanos() &+ 5_000_000))
        }
        return true
    }

    private func waitUntilPluginWorkDone(realLimit: UInt64) -> Bool {
        let realEnd = MonotonicTime.nanos() &+ realLimit
        quiescence.lock()
        defer { quiescence.unlock() }
        while pluginWork.count.load(ordering: .acquiring) > 0 {
            if MonotonicTime.nanos() >= realEnd { return false }
            _ = quiescent.wait(quiescence, untilNanos: min(realEnd, MonotonicTime.nanos() &+ 5_000_000))
        }
        return true
    }
}

/// How many completion callbacks the current thread is inside (a host that frees the runtime
/// from its own completion callback must not wait for that callback).
enum CompletionScope {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static var depth: Int { Int(bitPattern: pthread_getspecific(key)) }

    static func inside<T>(_ body: () -> T) -> T {
        let d = depth
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: d + 1))
        defer { pthread_setspecific(key, d == 0 ? nil : UnsafeRawPointer(bitPattern: d)) }
        return body()
    }
}

extension Runtime {
    /// Blocks until the watchdog has handled every deadline, grace period and heartbeat timeout
    /// due at the clock's current time (tests: advance a manual clock, settle, then look).
    /// Returns false if that took longer than 10 s of real time.
    @_spi(AgentRTTesting)
    @discardableResult
    public func settleWatchdog() -> Bool { watchdog.settle() }

    /// Threads of the runtime's worker pool (tests and memory checks).
    @_spi(AgentRTTesting)
    public var workerThreadCount: Int { pool.threadCount }
}
