/// One measured row of the benchmark table.
struct BenchRow {
    let name: String
    /// What it measures, for `--json` and BENCHMARKS.md.
    let unit: Unit
    let baseline: String?
    var samples: [Double] = []   // nanoseconds per operation (or value per sample for .value rows)

    enum Unit { case latency, throughput(label: String), bytes }

    var median: Double { percentile(0.5) }
    var p99: Double { percentile(0.99) }

    func percentile(_ q: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let s = samples.sorted()
        let i = min(s.count - 1, max(0, Int((Double(s.count) * q).rounded(.up)) - 1))
        return s[i]
    }

    /// Operations per second at the median.
    var perSecond: Double { median > 0 ? 1e9 / median : 0 }
}

func formatNanos(_ ns: Double) -> String {
    if ns >= 1e6 { return String(format2(ns / 1e6)) + " ms" }
    if ns >= 1e3 { return String(format2(ns / 1e3)) + " µs" }
    return String(format2(ns)) + " ns"
}

func formatCount(_ v: Double) -> String {
    if v >= 1e6 { return format2(v / 1e6) + " M" }
    if v >= 1e3 { return format2(v / 1e3) + " k" }
    return format2(v)
}

func format2(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals == 1 { s += "0" }
    } else {
        s += ".00"
    }
    return s
}
