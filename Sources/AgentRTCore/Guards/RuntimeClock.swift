import Synchronization

/// Where guards read time (monotonic nanoseconds). Tests drive a `ManualClock`.
public protocol RuntimeClock: Sendable {
    func nowNanos() -> UInt64
}

/// The system's monotonic clock.
public struct SystemClock: RuntimeClock {
    public init() {}
    @inline(__always) public func nowNanos() -> UInt64 { MonotonicTime.nanos() }
}

/// A clock that moves only when told to.
public final class ManualClock: RuntimeClock, @unchecked Sendable {
    private let now: Atomic<UInt64>
    public init(startNanos: UInt64 = 1_000_000_000) { now = Atomic(startNanos) }
    public func nowNanos() -> UInt64 { now.load(ordering: .acquiring) }
    public func advance(by d: Duration) { now.add(d.nanoseconds, ordering: .acquiringAndReleasing) }
    public func set(nanos: UInt64) { now.store(nanos, ordering: .releasing) }
}
