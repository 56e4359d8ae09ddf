import AgentRTCore
import Testing
@testable import AgentRTServer

@Suite("Server runs over HTTP")
struct RunsHTTPTests {
    @Test("health, readiness and what is loaded")
    func catalog() async throws {
        try await ServerHarness.with { h in
            #expect(try await h.get("/healthz", token: nil).status == 200)
            #expect(try await h.get("/readyz", token: nil).status == 200)
            let agents = try await h.get("/v1/agents", token: h.alice)
            #expect(agents.status == 200)
            let names = agents.json["agents"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(names == ["t.chatty", "t.echo", "t.fail", "t.slow", "t.typed"])
            let typed = agents.json["agents"]?.arrayValue?.first { $0["name"]?.stringValue == "t.typed" }
            #expect(typed?["input_schema"]?["required"]?.arrayValue?.first?.stringValue == "x")
            let tools = try await h.get("/v1/tools", token: h.alice)
            #expect(tools.status == 200)
            #expect(tools.json["tools"]?.arrayValue != nil)
            let missing = try await h.get("/v1/nothing", token: h.alice)
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")
        }
    }

    @Test("wait: 200 with the result, or with the failure of a run that started")
    func runWithWait() async throws {
        try await ServerHarness.with { h in
            let ok = try await h.startRun("t.echo", token: h.alice, input: "{\"q\":[1,2]}", wait: true)
            #expect(ok.status == 200)
            #expect(ok.json["status"]?.stringValue == "ok")
            #expect(ok.json["result"] == ["q": [1, 2]])
            let runID = try #require(ok.json["run_id"]?.stringValue)
            let shown = try await h.get("/v1/runs/\(runID)", token: h.alice)
            #expect(shown.status == 200)
            #expect(shown.json["state"]?.stringValue == "finished")
            #expect(shown.json["result"] == ["q": [1, 2]])

            let failed = try await h.startRun("t.fail", token: h.alice, wait: true)
            #expect(failed.status == 200)
            #expect(failed.json["status"]?.stringValue == "agent_error")
            #expect(failed.json["error"]?["code"]?.stringValue == "agent_error")
            #expect(failed.json["error"]?["message"]?.stringValue?.contains("it broke") == true)
        }
    }

    @Test("without wait: 202 with the run id, then GET shows running and the outcome")
    func runWithoutWait() async throws {
        try await ServerHarness.with { h in
            let r = try await h.startRun("t.slow", token: h.alice, input: "{\"ms\":100000}")
            #expect(r.status == 202)
            let runID = try #require(r.json["run_id"]?.stringValue)
            #expect(r.header("Location") == "/v1/runs/\(runID)")
            let running = try await h.get("/v1/runs/\(runID)", token: h.alice)
            #expect(running.json["state"]?.stringValue == "running")
            let cancel = try await h.post("/v1/runs/\(runID)/cancel", token: h.alice)
            #expect(cancel.status == 202)
            let done = try await h.waitFinished(runID, token: h.alice)
            #expect(done.json["state"]?.stringValue == "finished")
            #expect(done.json["status"]?.stringValue == "cancelled")
            let again = try await h.post("/v1/runs/\(runID)/cancel", token: h.alice)
            #expect(again.status == 409)

            let quick = try await h.startRun("t.echo", token: h.alice, input: "7")
            #expect(quick.status == 202)
            let quickID = try #require(quick.json["run_id"]?.stringValue)
            let finished = try await h.waitFinished(quickID, token: h.alice)
            #expect(finished.json["result"] == 7)
        }
    }

    @Test("two users running at once cannot read or cancel each other's runs (404, as for no run)")
    func isolation() async throws {
        try await ServerHarness.with { h in
            let a = try await h.startRun("t.slow", token: h.alice, input: "{\"ms\":100000}")
            let b = try await h.startRun("t.slow", token: h.bob, input: "{\"ms\":100000}")
            let aID = try #require(a.json["run_id"]?.stringValue)
            let bID = try #require(b.json["run_id"]?.stringValue)
            for (id, other) in [(aID, h.bob), (bID, h.alice)] {
                let read = try await h.get("/v1/runs/\(id)", token: other)
                #expect(read.status == 404)
                #expect(read.errorCode == "not_found")
                let unknown = try await h.get("/v1/runs/run_does_not_exist", token: other)
                #expect(read.body.replacingRunID(id) == unknown.body.replacingRunID("run_does_not_exist"))
                let cancel = try await h.post("/v1/runs/\(id)/cancel", token: other)
                #expect(cancel.status == 404)
            }
            // Both still run; each owner cancels their own.
            #expect(h.runtime.isRunInFlight(runID: aID, userID: "alice"))
            #expect(h.runtime.isRunInFlight(runID: bID, userID: "bob"))
            #expect(try await h.post("/v1/runs/\(aID)/cancel", token: h.alice).status == 202)
            #expect(try await h.post("/v1/runs/\(bID)/cancel", token: h.bob).status == 202)
            _ = try await h.waitFinished(aID, token: h.alice)
            _ = try await h.waitFinished(bID, token: h.bob)
            // Finished runs stay private too.
            #expect(try await h.get("/v1/runs/\(aID)", token: h.bob).status == 404)
            #expect(try await h.post("/v1/runs/\(aID)/cancel", token: h.bob).status == 404)
        }
    }

    @Test("refusals before start map to HTTP statuses, each with an error body and a refused run record")
    func refusalStatuses() async throws {
        try await ServerHarness.with({ $0.maxBodyBytes = 4096 }, runtime: { $0.perUserLimit = 1 }) { h in
            let unknown = try await h.startRun("t.nope", token: h.alice, wait: true)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")
            let noPlugin = try await h.startRun("plain", token: h.alice)
            #expect(noPlugin.status == 404)

            let notJSON = try await h.post("/v1/runs", token: h.alice, body: "{nope")
            #expect(notJSON.status == 400)
            #expect(notJSON.errorCode == "bad_request")
            let noAgent = try await h.post("/v1/runs", token: h.alice, body: "{\"input\":{}}")
            #expect(noAgent.status == 400)
            let badTimeout = try await h.post("/v1/runs", token: h.alice, body: "{\"agent\":\"t.echo\",\"timeout_ms\":-5}")
            #expect(badTimeout.status == 400)
            let badSession = try await h.post("/v1/runs", token: h.alice,
                                              body: "{\"agent\":\"t.echo\",\"session_id\":\"\(String(repeating: "s", count: 300))\"}")
            #expect(badSession.status == 400)
            #expect(badSession.errorCode == "invalid_context")

            let badInput = try await h.startRun("t.typed", token: h.alice, input: "{\"x\":\"text\"}")
            #expect(badInput.status == 422)
            #expect(badInput.errorCode == "bad_arguments")
            let goodInput = try await h.startRun("t.typed", token: h.alice, input: "{\"x\":3}", wait: true)
            #expect(goodInput.status == 200)

            let big = try await h.post("/v1/runs", token: h.alice,
                                       body: "{\"agent\":\"t.echo\",\"input\":\"\(String(repeating: "y", count: 8000))\"}")
            #expect(big.status == 413)
            #expect(big.errorCode == "body_too_large", "\(big.body)")

            // One run in flight is alice's limit: the next is overloaded (429, Retry-After); bob is not affected.
            let slow = try await h.startRun("t.slow", token: h.alice, input: "{\"ms\":100000}")
            let slowID = try #require(slow.json["run_id"]?.stringValue)
            let over = try await h.startRun("t.echo", token: h.alice)
            #expect(over.status == 429)
            #expect(over.errorCode == "overloaded")
            #expect(over.header("Retry-After") != nil)
            #expect(try await h.startRun("t.echo", token: h.bob, wait: true).status == 200)
            _ = try await h.post("/v1/runs/\(slowID)/cancel", token: h.alice)
            _ = try await h.waitFinished(slowID, token: h.alice)

            h.runtime.forceBreaker(plugin: "t", agent: "echo", to: .forcedOpen)
            let open = try await h.startRun("t.echo", token: h.alice)
            #expect(open.status == 503)
            #expect(open.errorCode == "circuit_open")
            #expect(open.header("Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
        }
    }

    @Test("a refused run is recorded with its run id and shows in the stream as agent_failed refused")
    func refusedRunRecord() async throws {
        try await ServerHarness.with { h in
            let sse = try await TestSSE.open(port: h.port, path: "/v1/events", token: h.alice)
            _ = try await sse.frames { $0.comment == "connected" }
            let r = try await h.startRun("t.nope", token: h.alice)
            #expect(r.status == 404)
            let frames = try await sse.frames { $0.event == "agent_failed" }
            let data = try #require(frames.last?.data)
            let envelope = try JSONValue.parse(data)
            #expect(envelope["data"]?["refused"] == true)
            let runID = try #require(envelope["run_id"]?.stringValue)
            let shown = try await h.get("/v1/runs/\(runID)", token: h.alice)
            #expect(shown.json["state"]?.stringValue == "refused")
            #expect(shown.json["status"]?.stringValue == "not_found")
        }
    }
}

extension String {
    /// The text with `id` replaced by a marker (compares two bodies that differ only in the id).
    func replacingRunID(_ id: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: id) {
            out += rest[..<r.lowerBound] + "<ID>"
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
