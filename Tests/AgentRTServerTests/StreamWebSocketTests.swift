import AgentRTCore
import Testing
@testable import AgentRTServer

@Suite("Server stream over WebSocket")
struct StreamWebSocketTests {
    static func type(_ v: JSONValue) -> String? { v["type"]?.stringValue }

    @Test("run: run_accepted comes before the run's events, which end with its terminal event")
    func runOverWebSocket() async throws {
        try await ServerHarness.with { h in
            let ws = try await TestWebSocket.open(port: h.port, token: h.alice)
            try await ws.send(json: ["type": "run", "agent": "t.chatty", "input": ["n": 3, "size": 4], "request_id": "r1"])
            let msgs = try await ws.messages { Self.type($0) == "agent_completed" }
            let accepted = try #require(msgs.first)
            #expect(Self.type(accepted) == "run_accepted")
            #expect(accepted["request_id"]?.stringValue == "r1")
            let runID = try #require(accepted["run_id"]?.stringValue)
            let events = msgs.dropFirst()
            #expect(events.map { Self.type($0) ?? "" } == ["agent_started", "custom", "custom", "custom", "agent_completed"])
            #expect(events.allSatisfy { $0["run_id"]?.stringValue == runID && $0["user_id"]?.stringValue == "alice" })

            try await ws.send(json: ["type": "run", "agent": "t.nope", "request_id": "r2"])
            let refused = try await ws.messages { Self.type($0) == "agent_failed" }
            #expect(Self.type(refused[0]) == "run_refused")
            #expect(refused[0]["request_id"]?.stringValue == "r2")
            #expect(refused[0]["error"]?["code"]?.stringValue == "not_found")
            #expect(refused.last?["data"]?["refused"] == true)
            #expect(refused.last?["run_id"] == refused[0]["run_id"])

            try await ws.send(json: ["type": "run", "input": 1, "request_id": "r3"])
            let bad = try await ws.messages { Self.type($0) == "run_refused" }
            #expect(bad.last?["error"]?["code"]?.stringValue == "bad_request")
            try await ws.send(json: ["type": "dance"])
            let unknown = try await ws.messages { Self.type($0) == "error" }
            #expect(unknown.last?["error"]?["code"]?.stringValue == "bad_request")
        }
    }

    @Test("cancel over the WebSocket; another user cannot cancel it")
    func cancel() async throws {
        try await ServerHarness.with { h in
            let ws = try await TestWebSocket.open(port: h.port, token: h.alice)
            let bobWS = try await TestWebSocket.open(port: h.port, token: h.bob)
            try await ws.send(json: ["type": "run", "agent": "t.slow", "input": ["ms": 100000]])
            let started = try await ws.messages { Self.type($0) == "agent_started" }
            let runID = try #require(started.first?["run_id"]?.stringValue)
            try await bobWS.send(json: ["type": "cancel", "run_id": .string(runID)])
            let bobResult = try await bobWS.messages { Self.type($0) == "cancel_result" }
            #expect(bobResult.last?["cancelled"] == false)
            #expect(bobResult.count == 1)   // bob saw nothing of alice's run
            #expect(h.runtime.isRunInFlight(runID: runID, userID: "alice"))
            try await ws.send(json: ["type": "cancel", "run_id": .string(runID)])
            let end = try await ws.messages { Self.type($0) == "agent_cancelled" }
            #expect(end.contains { Self.type($0) == "cancel_result" && $0["cancelled"] == true })
            #expect(end.last?["run_id"]?.stringValue == runID)
        }
    }

    @Test("subscribe replays after a seq; a new connection with ?after_seq resumes; every connection gets everything")
    func resume() async throws {
        try await ServerHarness.with { h in
            // From the start of the stream: a connection's live subscription begins when the
            // server has set it up, which may be after the upgrade's response.
            let all = "/v1/stream?after_seq=0&access_token=\(h.alice)"
            let first = try await TestWebSocket.open(port: h.port, path: all, token: nil)
            let second = try await TestWebSocket.open(port: h.port, path: all, token: nil)
            let bob = try await TestWebSocket.open(port: h.port, token: h.bob)
            try await first.send(json: ["type": "run", "agent": "t.chatty", "input": ["n": 4]])
            let a = try await first.messages { Self.type($0) == "agent_completed" }.compactMap { $0["seq"]?.numberValue?.uint64 }
            let b = try await second.messages { Self.type($0) == "agent_completed" }.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(a.count == 6)
            #expect(a == b)

            try await second.send(json: ["type": "subscribe", "after_seq": .int(a[1])])
            let replay = try await second.messages { Self.type($0) == "agent_completed" }.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(replay == Array(a[2...]))

            let later = try await TestWebSocket.open(port: h.port, path: "/v1/stream?after_seq=\(a[3])&access_token=\(h.alice)", token: nil)
            let resumed = try await later.messages { Self.type($0) == "agent_completed" }.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(resumed == Array(a[4...]))

            // Bob, connected all along, got none of it: his first message is his own run's acceptance.
            try await bob.send(json: ["type": "run", "agent": "t.echo", "input": 1])
            let bobs = try await bob.messages { Self.type($0) == "agent_completed" }
            #expect(Self.type(bobs[0]) == "run_accepted")
            #expect(bobs.dropFirst().allSatisfy { $0["user_id"]?.stringValue == "bob" })
        }
    }

    @Test("a client that stops reading is closed with 1008 naming its resume seq; others keep their stream",
          .disabled(if: underThreadSanitizer, "megabytes through an unread socket: minutes under TSan"),
          .enabled(if: socketStressAlone, "set AGENTRT_SOCKET_TESTS=1 and run the server suite alone"))
    func slowConsumer() async throws {
        try await ServerHarness.with({ $0.sendBufferFrames = 64; $0.sendBufferBytes = 1 << 20; $0.slowConsumerPatience = .milliseconds(200)
                                       $0.closeGrace = .seconds(120) },
                                     runtime: { $0.replayCapacity = 100_000; $0.replayBytes = 256 << 20 }) { h in
            let all = "/v1/stream?after_seq=0&access_token=\(h.alice)"
            let slow = try await TestWebSocket.open(port: h.port, path: all, token: nil, receiveBuffer: 4096)
            let fast = try await TestWebSocket.open(port: h.port, path: all, token: nil)
            // About 12 MB of events over more than half a second: a reading client keeps up; the
            // kernel's socket buffers cannot hold it all, so the slow client's writer blocks and
            // its send buffer overflows.
            let r = try await h.startRun("t.chatty", token: h.alice, input: "{\"n\":600,\"size\":20000,\"pause_us\":1000}")
            let runID = try #require(r.json["run_id"]?.stringValue)
            let fastSeqs = try await fast.messages { Self.type($0) == "agent_completed" }.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(fastSeqs.count == 602)
            try await ServerHarness.eventually("the slow consumer's disconnect") { h.server.counters.slowConsumerDisconnectCount == 1 }

            let (got, code, reason) = try await slow.untilClose()
            #expect(h.server.counters.slowConsumerDisconnectCount == 1)
            #expect(code == 1008)
            let resumeText = try #require(reason.split(separator: "=").last)
            let resumeSeq = try #require(UInt64(resumeText))
            let gotSeqs = got.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(gotSeqs.last == resumeSeq)
            #expect(gotSeqs.count < 602)

            // Resuming from the named seq gives the rest, contiguous, up to the terminal event.
            let again = try await TestWebSocket.open(port: h.port, path: "/v1/stream?after_seq=\(resumeSeq)&access_token=\(h.alice)", token: nil)
            let rest = try await again.messages { Self.type($0) == "agent_completed" }
            let restSeqs = rest.compactMap { $0["seq"]?.numberValue?.uint64 }
            #expect(gotSeqs + restSeqs == fastSeqs)
            #expect(rest.last?["run_id"]?.stringValue == runID)
        }
    }

    @Test("a cursor older than the replay buffer gets stream_gap first, on connect and on subscribe")
    func streamGap() async throws {
        try await ServerHarness.with(runtime: { $0.replayCapacity = 8 }) { h in
            let r = try await h.startRun("t.chatty", token: h.alice, input: "{\"n\":30}", wait: true)   // 32 events; 8 kept
            #expect(r.status == 200)
            func check(_ msgs: [JSONValue]) throws {
                let first = try #require(msgs.first)
                #expect(Self.type(first) == "stream_gap")
                #expect(first["data"]?["from_seq"]?.numberValue?.uint64 == 1)
                let to = try #require(first["data"]?["to_seq"]?.numberValue?.uint64)
                #expect(first["seq"]?.numberValue?.uint64 == to)
                let kept = msgs.dropFirst().compactMap { $0["seq"]?.numberValue?.uint64 }
                #expect(kept == Array((to + 1)...(to + 8)))
            }
            let ws = try await TestWebSocket.open(port: h.port, path: "/v1/stream?after_seq=0&access_token=\(h.alice)", token: nil)
            try check(try await ws.messages { Self.type($0) == "agent_completed" })
            try await ws.send(json: ["type": "subscribe", "after_seq": 0])
            try check(try await ws.messages { Self.type($0) == "agent_completed" })
        }
    }

    @Test("two users running at once each get only their own events, contiguous")
    func twoUsersAtOnce() async throws {
        try await ServerHarness.with { h in
            let alice = try await TestWebSocket.open(port: h.port, token: h.alice)
            let bob = try await TestWebSocket.open(port: h.port, token: h.bob)
            try await alice.send(json: ["type": "run", "agent": "t.chatty", "input": ["n": 200, "pause_us": 100]])
            try await bob.send(json: ["type": "run", "agent": "t.chatty", "input": ["n": 200, "pause_us": 100]])
            async let a = alice.messages { Self.type($0) == "agent_completed" }
            async let b = bob.messages { Self.type($0) == "agent_completed" }
            for (user, msgs) in [("alice", try await a), ("bob", try await b)] {
                let events = msgs.filter { $0["seq"] != nil }
                #expect(events.count == 202, "\(user)")
                #expect(events.allSatisfy { $0["user_id"]?.stringValue == user }, "\(user)")
                let seqs = events.compactMap { $0["seq"]?.numberValue?.uint64 }
                #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 + 1 }, "\(user)")
            }
        }
    }

    @Test("the server pings")
    func pings() async throws {
        // A ping unanswered by the next one closes the connection: a period long enough for a
        // loaded machine to answer in time.
        try await ServerHarness.with({ $0.pingInterval = .seconds(1) }) { h in
            let ws = try await TestWebSocket.open(port: h.port, token: h.alice)
            try await ws.waitForPings(2)
            #expect(ws.pings >= 2)
        }
    }
}
