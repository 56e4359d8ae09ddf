public import AgentRTCore

/// A clock that moves only when told to. Give it to `Runtime(configuration:clock:)` and advance
/// it past a deadline, a grace period, a heartbeat timeout, a breaker's wait or an idle expiry
/// instead of sleeping: the runtime's watchdog, admission waits and sweeper wake on every
/// `advance`, so timing tests are deterministic and run in parallel.
///
/// ```swift
/// let clock = ManualClock()
/// let rt = Runtime(configuration: config, clock: clock)
/// // … start a call with a 50 ms timeout, then:
/// clock.advance(by: .milliseconds(50))   // the watchdog cancels it now, not 50 ms from now
/// ```
public final class ManualClock: ManualClockBase, @unchecked Sendable {
    /// Starts at `startNanos` (1 s by default, so subtracting small durations never wraps).
    public init(start: Duration = .seconds(1)) {
        super.init(startNanos: start.nanoseconds)
    }

    /// Starts at `startNanos` monotonic nanoseconds.
    public override init(startNanos: UInt64) {
        super.init(startNanos: startNanos)
    }

    /// The current time as a duration since the clock's zero.
    public var now: Duration { .nanoseconds(Int64(nowNanos())) }
}

@_spi(AgentRTTesting) import AgentRTCore

extension Runtime {
    /// Waits until the watchdog handled everything due at the clock's current time: after
    /// `clock.advance(by:)`, call it before looking at what the deadline did. False after 10 s.
    @discardableResult
    public func settle() -> Bool { settleWatchdog() }

    /// Advances `clock` and settles the watchdog.
    @discardableResult
    public func advance(_ clock: ManualClock, by d: Duration) -> Bool {
        clock.advance(by: d)
        return settleWatchdog()
    }
}
