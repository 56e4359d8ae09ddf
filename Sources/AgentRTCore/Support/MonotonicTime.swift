#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import Synchronization

/// Monotonic and wall-clock time helpers that avoid Foundation.
public enum MonotonicTime {
    /// Nanoseconds on `CLOCK_MONOTONIC`.
    @inline(__always)
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Milliseconds since the Unix epoch (`CLOCK_REALTIME`).
    public static func wallMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec / 1_000_000)
    }

    /// Wall-clock milliseconds at a monotonic instant (offset measured once per process).
    public static func wallMillis(fromMonotonic nanos: UInt64) -> Int64 {
        wallOffsetMillis + Int64(nanos / 1_000_000)
    }

    private static let wallOffsetMillis: Int64 = wallMillis() - Int64(MonotonicTime.nanos() / 1_000_000)

    /// Wall-clock milliseconds at an instant of `CLOCK_MONOTONIC` the caller has already read,
    /// without reading the wall clock: the offset between the two clocks is re-measured at
    /// most once a second, so a stepped wall clock is followed within a second. For event
    /// timestamps, two per call.
    public static func wallMillis(atMonotonic nanos: UInt64) -> Int64 {
        let at = offsetMeasuredAt.load(ordering: .acquiring)
        if nanos &- at > 1_000_000_000 && nanos > at {
            let wall = wallMillis(), mono = MonotonicTime.nanos()
            refreshedOffset.store(wall - Int64(mono / 1_000_000), ordering: .relaxed)
            offsetMeasuredAt.store(mono, ordering: .releasing)
            return wall - Int64((mono - min(mono, nanos)) / 1_000_000)
        }
        // A reader racing a refresh sees the previous offset at worst (never an unset one: it
        // starts measured), at most a second old.
        return refreshedOffset.load(ordering: .relaxed) + Int64(nanos / 1_000_000)
    }

    private static let refreshedOffset = Atomic<Int64>(wallOffsetMillis)
    private static let offsetMeasuredAt = Atomic<UInt64>(0)

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-25T12:03:00.123Z`.
    public static func rfc3339(millis: Int64) -> String {
        var secs = time_t(millis / 1000)
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        let ms = Int(millis % 1000)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    /// (From the 128-bit attosecond count: `components` divides by 10^18 and multiplies back,
    /// and this runs several times per call.)
    public var nanoseconds: UInt64 {
        let a = attoseconds
        if a <= 0 { return 0 }
        let n = a / 1_000_000_000
        return n >= Int128(UInt64.max) ? .max : UInt64(n)
    }
    /// The duration in milliseconds (for JSON and events).
    public var milliseconds: Int64 { Int64(clamping: nanoseconds / 1_000_000) }
}
