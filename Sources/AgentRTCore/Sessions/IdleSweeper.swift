/// Removes users idle for longer than `Configuration.idleUserExpiry`, on its own thread.
/// Holds the runtime weakly, so it never keeps a dropped runtime alive.
final class IdleSweeper: @unchecked Sendable {
    private let lock = Lock()
    private let cond = ConditionVariable()
    private var stopped = false
    private var thread: NativeThread?

    init(runtime: Runtime, idle: Duration) {
        let clock = runtime.clock
        let period = min(max(idle.nanoseconds / 2, 10_000_000), 1_000_000_000)
        thread = NativeThread(name: "agentrt-sweeper") { [weak runtime, self] in
            // The next sweep is due one period after the last one began (not after the wait
            // began): a clock that jumps while a sweep runs is seen when the sweep ends.
            var next = clock.nowNanos() &+ period
            while true {
                let stop = lock.withLock { () -> Bool in
                    while !stopped && clock.nowNanos() < next { _ = clock.wait(cond, lock, untilNanos: next) }
                    return stopped
                }
                guard !stop, let rt = runtime else { return }
                let now = clock.nowNanos()
                rt.expireIdleUsers(idle: idle, now: now)
                next = now &+ period
            }
        }
    }

    /// Stops the thread (from any thread, including its own).
    func stop() {
        lock.withLock { stopped = true }
        cond.broadcast()
        guard let t = thread else { return }
        if t.isCurrent { t.detach() } else { t.join() }
    }
}
