import Synchronization

/// Counters and a latency histogram for a set of calls (one agent, or one user).
public final class CallStats: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var calls = 0
    @exclusivity(unchecked) private var successes = 0
    @exclusivity(unchecked) private var failuresByCode: [ErrorCode: Int] = [:]
    @exclusivity(unchecked) private var histogram = LatencyHistogram()
    let inFlight = Atomic<Int>(0)
    let zombies = Atomic<Int>(0)

    init() {}

    func record(_ outcome: Result<String, AgentRTError>, duration: Duration) {
        lock.withLock {
            calls += 1
            switch outcome {
            case .success: successes += 1
            case .failure(let e): failuresByCode[e.code, default: 0] += 1
            }
            histogram.record(duration.nanoseconds)
        }
    }

    /// Records a refusal that never ran (overloaded, circuit open ...).
    func recordRefusal(_ code: ErrorCode) {
        lock.withLock {
            calls += 1
            failuresByCode[code, default: 0] += 1
        }
    }

    /// A snapshot for reports.
    public func snapshot() -> Snapshot {
        lock.withLock {
            Snapshot(calls: calls, successes: successes, failures: failuresByCode,
                     inFlight: inFlight.load(ordering: .relaxed), zombies: zombies.load(ordering: .relaxed),
                     p50Nanos: histogram.percentile(0.50), p99Nanos: histogram.percentile(0.99),
                     maxNanos: histogram.maxValue)
        }
    }

    public struct Snapshot: Sendable {
        public let calls: Int
        public let successes: Int
        public let failures: [ErrorCode: Int]
        public let inFlight: Int
        public let zombies: Int
        public let p50Nanos: UInt64
        public let p99Nanos: UInt64
        public let maxNanos: UInt64

        public var json: JSONValue {
            var f = JSONObject()
            for (k, v) in failures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { f[k.rawValue] = .int(Int64(v)) }
            return .object(JSONObject([
                ("calls", .int(Int64(calls))), ("successes", .int(Int64(successes))), ("failures", .object(f)),
                ("in_flight", .int(Int64(inFlight))), ("zombies", .int(Int64(zombies))),
                ("latency_p50_us", .double(Double(p50Nanos) / 1000)), ("latency_p99_us", .double(Double(p99Nanos) / 1000)),
                ("latency_max_us", .double(Double(maxNanos) / 1000)),
            ]))
        }
    }
}

/// A log-linear latency histogram (4 sub-buckets per power of two; ≤ 19% relative error),
/// stored sparsely: only buckets that were hit exist, in index order. A user's calls usually fall
/// in a handful of buckets, so a per-user histogram costs tens of bytes instead of the 2 KiB of a
/// dense one (it is part of every idle user's memory).
public struct LatencyHistogram: Sendable {
    private var indexes: [UInt8] = []
    private var counts: [UInt64] = []
    public private(set) var count: UInt64 = 0
    public private(set) var maxValue: UInt64 = 0

    public init() {}

    static func index(_ v: UInt64) -> Int {
        if v < 4 { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        let sub = Int((v >> (msb - 2)) & 3)
        return msb * 4 + sub
    }

    static func lowerBound(_ i: Int) -> UInt64 {
        if i < 4 { return UInt64(i) }
        let msb = i / 4, sub = UInt64(i % 4)
        return (UInt64(1) << msb) | (sub << (msb - 2))
    }

    public mutating func record(_ v: UInt64) {
        let b = UInt8(Self.index(v))
        // Few buckets are ever hit: a linear scan from the end finds or places one.
        var j = indexes.count
        while j > 0 && indexes[j - 1] > b { j -= 1 }
        if j > 0 && indexes[j - 1] == b {
            counts[j - 1] += 1
        } else {
            indexes.insert(b, at: j)
            counts.insert(1, at: j)
        }
        count += 1
        if v > maxValue { maxValue = v }
    }

    /// The value at quantile `q` (0...1), as the midpoint of its bucket.
    public func percentile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let target = UInt64((Double(count) * q).rounded(.up))
        var seen: UInt64 = 0
        for (k, c) in counts.enumerated() {
            seen += c
            if seen >= max(1, target) {
                let i = Int(indexes[k])
                let lo = Self.lowerBound(i), hi = i + 1 < 256 ? Self.lowerBound(i + 1) : lo
                return min(maxValue, lo + (hi - lo) / 2)
            }
        }
        return maxValue
    }
}

/// Process-wide counters of discarded late activity.
public final class RuntimeCounters: Sendable {
    /// Events emitted after their run's terminal event (dropped).
    public let lateEvents = Atomic<Int>(0)
    /// Results set after the run was abandoned (discarded).
    public let lateResults = Atomic<Int>(0)
    /// Tool calls attempted after the run ended (refused).
    public let lateToolCalls = Atomic<Int>(0)
    /// Abandoned calls whose code finally returned.
    public let zombiesReturned = Atomic<Int>(0)
    init() {}
}
