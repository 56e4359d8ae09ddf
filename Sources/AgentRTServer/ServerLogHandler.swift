import AgentRTCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// swift-log handler writing one line per message to stderr: readable text, or one JSON object
/// (`--log-format json`) for log collectors. Control characters are escaped either way.
public struct ServerLogHandler: LogHandler {
    public enum Format: String, Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, new in new } }
        let ts = MonotonicTime.rfc3339(millis: MonotonicTime.wallMillis())
        var line: String
        switch format {
        case .json:
            var w = JSONObjectWriter()
            w.string("ts", ts)
            w.string("level", event.level.rawValue)
            w.string("logger", label)
            w.string("message", "\(event.message)")
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { w.string(k, "\(v)") }
            line = w.finish()
        case .text:
            line = "\(ts) \(event.level.rawValue.uppercased()) \(label): \(LogLine.sanitize("\(event.message)"))"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(LogLine.sanitize("\(v)"))" }
        }
        line += "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
