import Testing
@testable import AgentRTCore

/// Everything a subscription has ready now.
private func drain(_ sub: EventSubscription) -> [Event] {
    var out: [Event] = []
    while let e = sub.poll() { out.append(e) }
    return out
}

/// A custom event for `user` whose data is `padding` bytes longer than the bare minimum.
private func sample(user: String, value: Int = 1, padding: Int) -> Event {
    Event(kind: .custom, userID: user, sessionID: "s", runID: "r", plugin: "p", agent: "a",
          dataJSON: "{\"name\":\"n\",\"value\":\(value),\"pad\":\"" + String(repeating: "x", count: padding) + "\"}")
}

@Suite("Event replay limits and seq continuity")
struct EventReplayTests {
    @Test("the replay buffer is bounded by bytes: oldest evicted, a resumer behind gets stream_gap")
    func boundedByBytes() throws {
        let bus = EventBus(replayCapacity: 1000, replayBytes: 10_000)
        // Values of three digits: every event costs the same.
        let cost = sample(user: "alice", value: 100, padding: 1000).replayBytes
        #expect(cost > 1000 && cost < 2000)
        for i in 1...50 { bus.publish(sample(user: "alice", value: 100 + i, padding: 1000)) }
        let kept = 10_000 / cost
        let retained = bus.stream(for: "alice").retained
        #expect(retained.count == kept)
        #expect(retained.bytes == kept * cost && retained.bytes <= 10_000)
        let events = drain(bus.subscribe(userID: "alice", afterSeq: 0))
        let gap = try #require(events.first)
        #expect(gap.kind == .streamGap)
        #expect(CoreTestKit.data(gap)["from_seq"] == 1)
        #expect(CoreTestKit.data(gap)["to_seq"]?.int64Value == Int64(50 - kept))
        #expect(events.dropFirst().map(\.seq) == Array(UInt64(51 - kept)...50))
    }

    @Test("the count bound still holds when bytes allow more")
    func countStillBounds() {
        let bus = EventBus(replayCapacity: 4, replayBytes: 1 << 30)
        for i in 1...20 { bus.publish(sample(user: "alice", value: i, padding: 10)) }
        #expect(bus.stream(for: "alice").retained.count == 4)
        #expect(drain(bus.subscribe(userID: "alice", afterSeq: 16)).map(\.seq) == [17, 18, 19, 20])
    }

    @Test("the newest event is kept even when it alone is over the byte bound")
    func newestAlwaysKept() throws {
        let bus = EventBus(replayCapacity: 100, replayBytes: 100)
        bus.publish(sample(user: "alice", padding: 5_000))
        #expect(bus.stream(for: "alice").retained.count == 1)
        #expect(drain(bus.subscribe(userID: "alice", afterSeq: 0)).map(\.seq) == [1])
        bus.publish(sample(user: "alice", value: 2, padding: 0))
        #expect(bus.stream(for: "alice").retained.count == 1)
        let events = drain(bus.subscribe(userID: "alice", afterSeq: 0))
        #expect(events.map(\.kind) == [.streamGap, .custom])
        #expect(events.last?.seq == 2)
    }

    @Test("Configuration.replayBytes reaches the bus (default 1 MiB per user)")
    func configurationReachesBus() {
        #expect(Runtime.Configuration().replayBytes == 1 << 20)
        let rt = CoreTestKit.runtime { $0.replayBytes = 5_000 }
        #expect(rt.events.replayBytes == 5_000)
        for i in 1...20 { rt.events.publish(sample(user: "u", value: i, padding: 1_000)) }
        #expect(rt.events.stream(for: "u").retained.bytes <= 5_000)
    }

    @Test("the size estimate of each kind of data tracks its JSON")
    func estimateTracksJSON() {
        let err = AgentRTError(.timeout, "took too long")
        let cases: [EventData] = [
            .json("{\"a\":1}"), .started(input: "{\"q\":\"hello\"}", deadlineMs: 1000, attempt: 1),
            .thinking(text: "hmm", kind: "plan"),
            .toolExecuting(id: "t1", tool: "search", arguments: "{\"q\":\"x\"}", timeoutMs: 3000),
            .toolCompleted(id: "t1", tool: "search", isError: true, content: nil, error: err, durationMs: 5),
            .completed(result: "{\"answer\":42}", durationMs: 12), .failed(err, durationMs: 3),
            .cancelled(reason: "user asked", by: "caller", durationMs: 4), .custom(name: "n", value: "[1,2,3]"),
        ]
        for d in cases {
            let real = d.json.utf8.count
            #expect(d.estimatedJSONBytes >= real / 2 && d.estimatedJSONBytes <= real * 2 + 64, "\(d.json)")
        }
    }

    @Test("a user's seq never restarts after its stream is dropped")
    func seqNeverRestarts() {
        let bus = EventBus()
        var highest: UInt64 = 0
        for round in 0..<50 {
            let seqs = (0...(round % 5)).map { _ in bus.publish(sample(user: "alice", value: round, padding: 0)) }
            #expect(seqs[0] > highest, "round \(round): seq \(seqs[0]) after \(highest)")
            #expect(seqs == Array(seqs[0]..<(seqs[0] + UInt64(seqs.count))), "contiguous within a stream")
            highest = seqs[seqs.count - 1]
            // Other users come and go too; their seqs must not drag alice's backwards.
            bus.publish(sample(user: "bob-\(round)", padding: 0))
            #expect(bus.dropStream(for: "bob-\(round)"))
            #expect(bus.dropStream(for: "alice"))
        }
        #expect(bus.streamCount == 0)
    }

    @Test("a client resuming with its last seq after the user's stream was dropped gets the new events")
    func resumeAcrossDrop() throws {
        let bus = EventBus()
        for i in 1...5 { bus.publish(sample(user: "alice", value: i, padding: 0)) }
        let lastSeen = try #require(drain(bus.subscribe(userID: "alice", afterSeq: 0)).last?.seq)
        #expect(bus.dropStream(for: "alice"))
        var newSeqs: [UInt64] = []
        for i in 1...3 { newSeqs.append(bus.publish(sample(user: "alice", value: i, padding: 0))) }
        #expect(newSeqs.allSatisfy { $0 > lastSeen })
        let resumed = drain(bus.subscribe(userID: "alice", afterSeq: lastSeen))
        #expect(resumed.map(\.seq) == newSeqs)

        // When the bus had used higher seqs (another user's dropped stream), the seqs in between
        // were never this user's: the resumer is told with one stream_gap, then gets the events.
        for _ in 1...20 { bus.publish(sample(user: "bob", padding: 0)) }
        #expect(bus.dropStream(for: "bob"))
        let aliceLast = try #require(newSeqs.last)
        #expect(bus.dropStream(for: "alice"))
        let next = bus.publish(sample(user: "alice", padding: 0))
        #expect(next > aliceLast)
        let again = drain(bus.subscribe(userID: "alice", afterSeq: aliceLast))
        #expect(again.last?.seq == next)
        #expect(again.filter { $0.kind != .streamGap }.map(\.seq) == [next])
        #expect(again.count <= 2)
    }

    @Test("a callback subscriber resuming after a drop is not left in silence", .timeLimit(.minutes(1)))
    func callbackResumeAcrossDrop() async {
        let bus = EventBus()
        for i in 1...5 { bus.publish(sample(user: "alice", value: i, padding: 0)) }
        #expect(bus.dropStream(for: "alice"))
        let got = SeqLog()
        let sub = bus.subscribe(userID: "alice", afterSeq: 5) { got.record($0) }
        for i in 1...3 { bus.publish(sample(user: "alice", value: i, padding: 0)) }
        #expect(await CoreTestKit.eventually(.seconds(10)) { got.count == 3 })
        #expect(got.all == [6, 7, 8])
        sub.cancel()
    }
}
