import Testing
@testable import AgentRTCore

/// The sparse latency histogram answers like the dense one did: the quantile's bucket midpoint.
@Suite("Latency histogram")
struct LatencyHistogramTests {
    @Test("percentiles fall in the bucket of the exact quantile, for values recorded in any order")
    func percentilesMatchExactQuantiles() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<50 {
            var h = LatencyHistogram()
            var values: [UInt64] = []
            let n = Int.random(in: 1...2000, using: &rng)
            for _ in 0..<n {
                // Mostly microseconds, a tail of milliseconds and a few seconds.
                let v: UInt64 = switch UInt64.random(in: 0..<100, using: &rng) {
                case 0..<80: UInt64.random(in: 500...20_000, using: &rng)
                case 80..<98: UInt64.random(in: 20_000...5_000_000, using: &rng)
                default: UInt64.random(in: 0...30_000_000_000, using: &rng)
                }
                values.append(v)
                h.record(v)
            }
            let sorted = values.sorted()
            #expect(h.count == UInt64(n))
            #expect(h.maxValue == sorted.last)
            for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
                let exact = sorted[max(0, Int((Double(n) * q).rounded(.up)) - 1)]
                let got = h.percentile(q)
                #expect(LatencyHistogram.index(got) == LatencyHistogram.index(exact) || got == h.maxValue,
                        "round \(round) q \(q): \(got) for exact \(exact)")
            }
        }
    }

    @Test("an empty histogram answers 0")
    func empty() {
        #expect(LatencyHistogram().percentile(0.5) == 0)
    }
}
