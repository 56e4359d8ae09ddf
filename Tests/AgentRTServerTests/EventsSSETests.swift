import AgentRTCore
import Testing
@testable import AgentRTServer

@Suite("Server events over SSE")
struct EventsSSETests {
    /// Runs `t.chatty` for alice with `n` events (waiting for the outcome); returns its run id.
    static func chatty(_ h: ServerHarness, n: Int, token: String? = nil) async throws -> String {
        let r = try await h.startRun("t.chatty", token: token ?? h.alice, input: "{\"n\":\(n),\"size\":8}", wait: true)
        #expect(r.status == 200)
        return try #require(r.json["run_id"]?.stringValue)
    }

    @Test("frames carry id, event and the envelope; resume with after_seq or Last-Event-ID")
    func resume() async throws {
        try await ServerHarness.with { h in
            let runID = try await Self.chatty(h, n: 5)
            let all = h.runtime.events.subscribe(userID: "alice", afterSeq: 0)
            var seqs: [UInt64] = []
            while let e = all.poll() { seqs.append(e.seq) }
            all.cancel()
            #expect(seqs.count == 7)   // started, 5 ticks, completed

            let sse = try await TestSSE.open(port: h.port, path: "/v1/events?after_seq=0", token: h.alice)
            #expect(sse.status == 200)
            #expect(sse.headers.contains { $0.0.lowercased() == "content-type" && $0.1 == "text/event-stream" })
            let frames = try await sse.frames { $0.event == "agent_completed" }.filter { $0.event != nil }
            #expect(frames.map(\.id) == seqs.map { Optional($0) })
            #expect(frames.first?.event == "agent_started")
            let envelope = try JSONValue.parse(try #require(frames.last?.data))
            #expect(envelope["run_id"]?.stringValue == runID)
            #expect(envelope["seq"]?.numberValue?.uint64 == seqs.last)
            #expect(envelope["user_id"]?.stringValue == "alice")

            // Resume after the third event: the rest, in order, nothing twice.
            let third = seqs[2]
            let byQuery = try await TestSSE.open(port: h.port, path: "/v1/events?after_seq=\(third)", token: h.alice)
            let rest = try await byQuery.frames { $0.event == "agent_completed" }.compactMap(\.id)
            #expect(rest == Array(seqs[3...]))
            // Last-Event-ID (an EventSource reconnecting) wins over the query.
            let byHeader = try await TestSSE.open(port: h.port, path: "/v1/events?after_seq=0&access_token=\(h.alice)",
                                                  token: nil, headers: [("Last-Event-ID", "\(seqs[4])")])
            #expect(byHeader.status == 200)
            let tail = try await byHeader.frames { $0.event == "agent_completed" }.compactMap(\.id)
            #expect(tail == Array(seqs[5...]))

            let bad = try await h.get("/v1/events?after_seq=minus", token: h.alice)
            #expect(bad.status == 400)
        }
    }

    @Test("a cursor older than the replay buffer gets stream_gap first, then what is kept")
    func streamGap() async throws {
        try await ServerHarness.with(runtime: { $0.replayCapacity = 8 }) { h in
            _ = try await Self.chatty(h, n: 30)   // 32 events; 8 kept
            let sse = try await TestSSE.open(port: h.port, path: "/v1/events?after_seq=0", token: h.alice)
            let frames = try await sse.frames { $0.event == "agent_completed" }.filter { $0.event != nil }
            let first = try #require(frames.first)
            #expect(first.event == "stream_gap")
            let gap = try JSONValue.parse(try #require(first.data))
            #expect(gap["data"]?["from_seq"]?.numberValue?.uint64 == 1)
            let to = try #require(gap["data"]?["to_seq"]?.numberValue?.uint64)
            #expect(first.id == to)
            let kept = frames.dropFirst().compactMap(\.id)
            #expect(kept.count == 8)
            #expect(kept.first == to + 1)
            #expect(zip(kept, kept.dropFirst()).allSatisfy { $1 == $0 + 1 })
        }
    }

    @Test("a quiet stream gets keepalive comments")
    func keepalive() async throws {
        try await ServerHarness.with({ $0.keepaliveInterval = .milliseconds(50) }) { h in
            let sse = try await TestSSE.open(port: h.port, path: "/v1/events", token: h.alice)
            let frames = try await sse.frames { $0.comment == "keepalive" }
            #expect(frames.last?.comment == "keepalive")
            #expect(frames.allSatisfy { $0.event == nil })
        }
    }

    @Test("one user's stream never carries another's events, also while both run")
    func isolation() async throws {
        try await ServerHarness.with { h in
            let bobStream = try await TestSSE.open(port: h.port, path: "/v1/events", token: h.bob)
            _ = try await bobStream.frames { $0.comment == "connected" }
            async let a = Self.chatty(h, n: 50)
            async let b = Self.chatty(h, n: 3, token: h.bob)
            let (aliceRun, bobRun) = try await (a, b)
            let frames = try await bobStream.frames { f in f.event == "agent_completed" && f.data?.contains(bobRun) == true }
            for f in frames.compactMap(\.data) {
                let e = try JSONValue.parse(f)
                #expect(e["user_id"]?.stringValue == "bob")
                #expect(e["run_id"]?.stringValue != aliceRun)
            }
        }
    }
}
