import AgentRTCore
import Testing

@testable import AgentRTNative

/// Plugin ABI 1.1: the JSON Pointer accessors from a C plugin built with `cc`, and a plugin
/// built for ABI 1.0 that keeps loading.
@Suite("ABI 1.1 JSON accessors")
struct JSONAccessorTests {
    @Test("a C plugin reads its input with json_get_*; every status is the documented one")
    func accessors() async throws {
        let path = try await ExecFixtures.fixture("exec_json")
        let rt = Runtime()
        defer { rt.shutdown() }
        _ = try rt.load(path: path)
        let input = #"{"name":"Zoë","n":42,"x":2.5,"ok":true,"items":[1,{"k":"v"}],"huge":123456789012345678901234,"a/b":"tab\there"}"#
        let r = rt.runBlocking(RunRequest(plugin: "exec_json", agent: "read", userID: "u", input: input))
        let v = try JSONValue.parse(try #require(r.resultJSON, "\(String(describing: r.error))"))
        #expect(v["name"]?.stringValue == "Zoë")
        #expect(v["name_len"]?.int64Value == 4)   // bytes of "Zoë", borrowed from the input
        #expect(v["n"]?.int64Value == 42)
        #expect(v["x"]?.doubleValue == 2.5)
        #expect(v["ok"]?.int64Value == 1)
        #expect(v["raw"] == ["k": "v"])
        let statuses = v["statuses"]?.arrayValue?.compactMap(\.stringValue)
        #expect(statuses == ["ok", "ok", "ok", "ok", "ok", "not_found", "type_mismatch", "too_large",
                             "unsupported", "invalid_argument", "invalid_json"])
    }

    @Test("a plugin built for ABI 1.0 still loads and runs")
    func abi10() async throws {
        let path = try await ExecFixtures.fixture("exec_abi10")
        let rt = Runtime()
        defer { rt.shutdown() }
        let p = try rt.load(path: path)
        #expect(p.abiMinor == 0)
        let r = rt.runBlocking(RunRequest(plugin: "exec_abi10", agent: "echo", userID: "u", input: #"{"a":1}"#))
        #expect(r.resultJSON == #"{"a":1}"#)
    }
}
