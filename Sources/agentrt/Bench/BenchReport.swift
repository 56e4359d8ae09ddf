import AgentRTCore

/// Renders bench rows as a table or JSON, with each guarded row's ratio to its baseline.
enum BenchReport {
    static func ratio(_ row: BenchRow, _ rows: [BenchRow]) -> Double? {
        guard let b = row.baseline, let base = rows.first(where: { $0.name == b }), row.median > 0 else { return nil }
        return base.median / row.median
    }

    static func table(_ rows: [BenchRow]) -> String {
        var lines = ["agentrt bench (\(rows.first?.samples.count ?? 0) samples per row; ratio = baseline median / row median, >1 is faster)", ""]
        let header = pad("row", 58) + pad("median", 12) + pad("p99", 12) + pad("rate", 18) + "vs baseline"
        lines.append(header)
        lines.append(String(repeating: "-", count: header.count + 10))
        for r in rows {
            var line = pad(r.name, 58)
            switch r.unit {
            case .latency:
                line += pad(formatNanos(r.median), 12) + pad(formatNanos(r.p99), 12) + pad(formatCount(r.perSecond) + " calls/s", 18)
            case .throughput(let label):
                line += pad(formatNanos(r.median), 12) + pad("", 12) + pad(formatCount(r.perSecond) + " " + label, 18)
            case .bytes:
                line += pad(format2(r.median) + " B", 12) + pad("", 12) + pad("", 18)
            }
            if let x = ratio(r, rows) { line += format2(x) + "× vs " + (r.baseline ?? "") }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ rows: [BenchRow], quick: Bool) -> JSONValue {
        .object(JSONObject([
            ("quick", .bool(quick)),
            ("rows", .array(rows.map { r in
                var o = JSONObject([("name", .string(r.name)), ("samples", .int(Int64(r.samples.count)))])
                switch r.unit {
                case .latency:
                    o["median_ns"] = .double(r.median); o["p99_ns"] = .double(r.p99); o["per_second"] = .double(r.perSecond)
                case .throughput(let label):
                    o["median_ns"] = .double(r.median); o["per_second"] = .double(r.perSecond); o["unit"] = .string(label)
                case .bytes:
                    o["bytes"] = .double(r.median)
                }
                if let b = r.baseline { o["baseline"] = .string(b) }
                if let x = ratio(r, rows) { o["ratio"] = .double(x) }
                return .object(o)
            })),
        ]))
    }

    static func pad(_ s: String, _ n: Int) -> String {
        let c = s.count
        return c >= n ? s + " " : s + String(repeating: " ", count: n - c)
    }
}
