import Synchronization
import Testing
@testable import AgentRTCore

/// The id fields a context validates, and a way to build a root context with one of them set.
private enum IDField: String, CaseIterable, Sendable {
    case userID = "user_id", sessionID = "session_id", runID = "run_id", requestID = "request_id",
         connectionID = "connection_id"

    func make(_ value: String) throws(AgentRTError) -> UserExecutionContext {
        switch self {
        case .userID: try UserExecutionContext.make(userID: value)
        case .sessionID: try UserExecutionContext.make(userID: "alice", sessionID: value)
        case .runID: try UserExecutionContext.make(userID: "alice", runID: value)
        case .requestID: try UserExecutionContext.make(userID: "alice", requestID: value)
        case .connectionID: try UserExecutionContext.make(userID: "alice", connectionID: value)
        }
    }

    /// The field's value in a context.
    func read(_ c: UserExecutionContext) -> String? {
        switch self {
        case .userID: c.userID
        case .sessionID: c.sessionID
        case .runID: c.runID
        case .requestID: c.requestID
        case .connectionID: c.connectionID
        }
    }
}

/// Byte-wise string equality (String == uses canonical equivalence: "é" and "e\u{301}" are equal).
private func sameBytes(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let a?, let b?): a.utf8.elementsEqual(b.utf8)
    default: false
    }
}

/// Values every id field must refuse.
private let badValues: [String] = {
    var v = ["", String(repeating: "a", count: 257), String(repeating: "é", count: 129),
             "a\u{0}b", "line\nbreak", "tab\there", "\u{7F}", "bell\u{7}", "nel\u{85}x", "cr\r"]
    for p in ContextValidation.placeholders {
        v += [p, p.uppercased(), " \(p) ", "\t\(CoreTestKit.capitalized(p))  "]
    }
    v += ["NuLl", "  UnDeFiNeD", "Default ", "   "]
    return v
}()

/// Values every id field accepts.
private let goodValues = [
    "alice", "user-42", "00", "0a", "nullable", "testing", "a", String(repeating: "a", count: 256),
    String(repeating: "é", count: 128), "日本語", "with space", "none-of-these",
]

@Suite("User execution context")
struct ContextTests {
    @Test("every validation rule refuses and names the field", arguments: IDField.allCases)
    fileprivate func validationNamesTheField(_ field: IDField) {
        for value in badValues {
            do {
                _ = try field.make(value)
                Issue.record("\(field.rawValue) = \(value.debugDescription) was accepted")
            } catch {
                #expect(error.code == .invalidContext)
                #expect(error.message.contains(field.rawValue), "message \(error.message) does not name \(field.rawValue)")
            }
        }
    }

    @Test("valid ids are accepted", arguments: IDField.allCases)
    fileprivate func validIDsAccepted(_ field: IDField) throws {
        for value in goodValues {
            _ = try field.make(value)
        }
    }

    @Test("each placeholder is refused in any case and with surrounding spaces",
          arguments: ContextValidation.placeholders.sorted())
    func placeholders(_ p: String) {
        for variant in [p, p.uppercased(), " \(p)", "\(p) ", "  \(CoreTestKit.capitalized(p))\t", "\r\n\(p)\n"] {
            let problem = ContextValidation.problem(with: variant, field: "user_id")
            #expect(problem != nil, "\(variant.debugDescription) accepted")
            #expect(problem?.contains("user_id") == true)
        }
    }

    @Test("the reason is specific")
    func reasons() {
        #expect(ContextValidation.problem(with: "", field: "f")?.contains("empty") == true)
        #expect(ContextValidation.problem(with: String(repeating: "x", count: 300), field: "f")?.contains("300 bytes") == true)
        #expect(ContextValidation.problem(with: "a\u{1}", field: "f")?.contains("U+1") == true)
        #expect(ContextValidation.problem(with: "NULL", field: "f")?.contains("placeholder") == true)
        #expect(ContextValidation.problem(with: "   ", field: "f")?.contains("whitespace") == true)
    }

    @Test("child run ids are validated too")
    func childRunIDValidated() throws {
        let root = try UserExecutionContext.make(userID: "alice")
        #expect(throws: AgentRTError.self) { try root.child(runID: "null") }
        #expect(root.childCount == 0)
    }

    @Test("a refused context runs nothing through the runtime", .timeLimit(.minutes(1)))
    func refusedContextRunsNothing() async throws {
        let rt = CoreTestKit.runtime()
        let ran = Shared<Int>(0)
        try CoreTestKit.agent(rt, "echo") { call, _ in ran.add(1, ordering: .relaxed); return call.setResult("1") }
        for (user, session) in [("null", "s1"), ("alice", " Undefined "), ("", "s1"), ("bob\n", "s1")] {
            let r = await rt.run(RunRequest(plugin: "t", agent: "echo", userID: user, sessionID: session))
            #expect(r.error?.code == .invalidContext)
            #expect(r.error?.message.contains(user == "alice" ? "session_id" : "user_id") == true)
        }
        #expect(ran.load(ordering: .relaxed) == 0)
    }

    @Test("child deadline is the earlier of the parent's and its own")
    func childDeadline() throws {
        let t: UInt64 = 5_000_000_000
        let parent = try UserExecutionContext.make(userID: "alice", timeout: .milliseconds(100), now: t)
        #expect(parent.deadlineNanos == t + 100_000_000)
        #expect(try parent.child(timeout: .milliseconds(50), now: t).deadlineNanos == t + 50_000_000)
        #expect(try parent.child(timeout: .milliseconds(500), now: t).deadlineNanos == t + 100_000_000)
        #expect(try parent.child(now: t).deadlineNanos == t + 100_000_000)
        // Created later: its own timeout counts from its creation.
        #expect(try parent.child(timeout: .milliseconds(50), now: t + 80_000_000).deadlineNanos == t + 100_000_000)
        #expect(try parent.child(timeout: .milliseconds(10), now: t + 20_000_000).deadlineNanos == t + 30_000_000)
        let free = try UserExecutionContext.make(userID: "alice", now: t)
        #expect(free.deadlineNanos == nil)
        #expect(try free.child(now: t).deadlineNanos == nil)
        #expect(try free.child(timeout: .seconds(1), now: t).deadlineNanos == t + 1_000_000_000)
        // Grandchildren too.
        let c = try parent.child(timeout: .milliseconds(60), now: t)
        #expect(try c.child(timeout: .seconds(9), now: t).deadlineNanos == t + 60_000_000)
    }

    @Test("children inherit user, session, request and metadata, with their own run id and a parent link")
    func childInherits() throws {
        let parent = try UserExecutionContext.make(userID: "alice", sessionID: "conv-1", requestID: "req-9",
                                                   metadata: ["tenant": "acme"])
        let c = try parent.child()
        #expect(c.userID == "alice" && c.sessionID == "conv-1" && c.requestID == "req-9")
        #expect(c.metadata == ["tenant": "acme"])
        #expect(c.runID != parent.runID)
        #expect(c.parent === parent)
        #expect(c.depth == 1)
    }

    @Test("cancel reaches every descendant, including ones created after it")
    func cancelReachesDescendants() throws {
        let root = try UserExecutionContext.make(userID: "alice")
        let a = try root.child(), b = try root.child()
        let a1 = try a.child(), a11 = try a1.child()
        let handled = Shared<Int>(0)
        a11.onCancel { cause in
            #expect(cause == .caller(reason: "stop"))
            handled.add(1, ordering: .relaxed)
        }
        root.cancel(.caller(reason: "stop"))
        for c in [root, a, b, a1, a11] {
            #expect(c.isCancelled)
            #expect(c.cancellationCause == .caller(reason: "stop"))
        }
        let late = try a11.child(), lateRoot = try root.child()
        #expect(late.isCancelled && lateRoot.isCancelled)
        #expect(late.cancellationCause == .caller(reason: "stop"))
        root.cancel(.deadline)  // idempotent
        #expect(handled.load(ordering: .relaxed) == 1)
        // onCancel on an already cancelled context runs at once.
        let now = Shared<Int>(0)
        late.onCancel { _ in now.add(1, ordering: .relaxed) }
        #expect(now.load(ordering: .relaxed) == 1)
    }

    @Test("cancelling a child does not cancel its parent or siblings")
    func cancelIsDownwardOnly() throws {
        let root = try UserExecutionContext.make(userID: "alice")
        let a = try root.child(), b = try root.child()
        a.cancel(.deadline)
        #expect(a.isCancelled && !root.isCancelled && !b.isCancelled)
    }

    @Test("the first cause wins, also on descendants cancelled earlier")
    func firstCauseWins() throws {
        let root = try UserExecutionContext.make(userID: "alice")
        let child = try root.child()
        child.cancel(.deadline)
        root.cancel(.caller(reason: "later"))
        root.cancel(.shutdown(reason: "even later"))
        #expect(root.cancellationCause == .caller(reason: "later"))
        #expect(child.cancellationCause == .deadline)
    }

    @Test("racing cancels agree on one cause and run each handler once", .timeLimit(.minutes(1)))
    func racingCancels() async throws {
        for _ in 0..<20 {
            let root = try UserExecutionContext.make(userID: "alice")
            let kids = try (0..<4).map { _ in try root.child() }
            let handlerRuns = Shared<Int>(0)
            root.onCancel { _ in handlerRuns.add(1, ordering: .relaxed) }
            await CoreTestKit.onThreads(8) { i in
                root.cancel(i % 2 == 0 ? .caller(reason: "thread \(i)") : .shutdown(reason: "thread \(i)"))
            }
            let cause = try #require(root.cancellationCause)
            for k in kids { #expect(k.cancellationCause == cause) }
            #expect(handlerRuns.load(ordering: .relaxed) == 1)
        }
    }

    @Test("10 threads creating children of one parent", .timeLimit(.minutes(1)))
    func concurrentChildren() async throws {
        let parent = try UserExecutionContext.make(userID: "alice", timeout: .seconds(60))
        let made = Recorder<UserExecutionContext>()
        await CoreTestKit.onThreads(10) { _ in
            for _ in 0..<100 { made.append(try! parent.child(timeout: .seconds(1))) }
        }
        let all = made.all
        #expect(all.count == 1000)
        #expect(parent.childCount == 1000)
        #expect(Set(all.map(\.runID)).count == 1000)
        await CoreTestKit.onThreads(10) { i in
            for c in all[(i * 100)..<(i * 100 + 100)] { c.end() }
        }
        #expect(parent.childCount == 0)
    }

    @Test("children created while the parent is cancelled all end up cancelled", .timeLimit(.minutes(1)))
    func createWhileCancelling() async throws {
        for _ in 0..<10 {
            let parent = try UserExecutionContext.make(userID: "alice")
            let made = Recorder<UserExecutionContext>()
            await CoreTestKit.onThreads(5) { i in
                if i == 0 { parent.cancel(.shutdown(reason: "race")); return }
                for _ in 0..<50 { made.append(try! parent.child()) }
            }
            #expect(made.all.allSatisfy { $0.cancellationCause == .shutdown(reason: "race") })
        }
    }

    @Test("ended children detach from the parent (no growth)")
    func endedChildrenDetach() throws {
        let parent = try UserExecutionContext.make(userID: "alice")
        weak var weakChild: UserExecutionContext?
        do {
            let c = try parent.child()
            weakChild = c
            #expect(parent.childCount == 1)
            c.end()
            #expect(parent.childCount == 0)
            #expect(c.isEnded)
        }
        #expect(weakChild == nil, "the parent keeps an ended child alive")
    }

    @Test("the depth limit stops runaway recursion")
    func depthLimit() throws {
        var c = try UserExecutionContext.make(userID: "alice")
        for d in 1...UserExecutionContext.maxDepth {
            c = try c.child()
            #expect(c.depth == d)
        }
        do {
            _ = try c.child()
            Issue.record("a child deeper than \(UserExecutionContext.maxDepth) was created")
        } catch {
            #expect(error.code == .invalidContext)
            #expect(error.message.contains("\(UserExecutionContext.maxDepth)"))
        }
        #expect(c.childCount == 0)
    }

    @Test("cleanups run exactly once, last first, when 8 threads end the context at once", .timeLimit(.minutes(1)))
    func cleanupsExactlyOnce() async throws {
        for _ in 0..<20 {
            let ctx = try UserExecutionContext.make(userID: "alice")
            let order = Recorder<Int>()
            let failures = Shared<Int>(0)
            for i in 0..<10 {
                ctx.addCleanup {
                    order.append(i)
                    if i == 5 {
                        // A failing cleanup: records its failure and gives up; the rest still run.
                        failures.add(1, ordering: .relaxed)
                        return
                    }
                }
            }
            await CoreTestKit.onThreads(8) { _ in ctx.end() }
            #expect(order.all == Array((0..<10).reversed()))
            #expect(failures.load(ordering: .relaxed) == 1)
            ctx.end()
            #expect(order.count == 10)
            // A cleanup added after the end runs at once.
            let late = Shared<Int>(0)
            ctx.addCleanup { late.add(1, ordering: .relaxed) }
            #expect(late.load(ordering: .relaxed) == 1)
        }
    }

    @Test("20 users x 100 contexts stay isolated", .timeLimit(.minutes(1)))
    func manyUsersIsolated() async throws {
        let made = Recorder<(Int, UserExecutionContext)>()
        await CoreTestKit.onThreads(20) { u in
            for k in 0..<100 {
                let ctx = try! UserExecutionContext.make(userID: "user-\(u)", sessionID: "s-\(u)-\(k % 3)",
                                                         metadata: ["owner": "user-\(u)"])
                made.append((u, ctx))
            }
        }
        let all = made.all
        #expect(all.count == 2000)
        #expect(Set(all.map(\.1.runID)).count == 2000)
        for (u, ctx) in all {
            #expect(ctx.userID == "user-\(u)")
            #expect(ctx.sessionID.hasPrefix("s-\(u)-"))
            #expect(ctx.metadata["owner"] == "user-\(u)")
        }
    }

    @Test("8,000 contexts created on 16 threads at once: distinct run ids, and every field is its own",
          .timeLimit(.minutes(1)))
    func concurrentCreations() async {
        let perThread = 500
        let base: UInt64 = 1_000_000_000
        let made = Recorder<(Int, Int, UserExecutionContext)>()
        await CoreTestKit.onThreads(16) { t in
            for k in 0..<perThread {
                let ctx = try! UserExecutionContext.make(
                    userID: "user-\(t)-\(k)", sessionID: "s-\(t)-\(k)", requestID: "req-\(t)-\(k)",
                    connectionID: "conn-\(t)", metadata: ["thread": "\(t)", "k": "\(k)"],
                    timeout: .nanoseconds(Int64(k) + 1), now: base + UInt64(t))
                made.append((t, k, ctx))
            }
        }
        let all = made.all
        #expect(all.count == 16 * perThread)
        // Run ids come from one shared generator: compare them as bytes.
        #expect(Set(all.map { Array($0.2.runID.utf8) }).count == all.count)
        var wrong: [String] = []
        for (t, k, c) in all {
            let ok = sameBytes(c.userID, "user-\(t)-\(k)") && sameBytes(c.sessionID, "s-\(t)-\(k)")
                && sameBytes(c.requestID, "req-\(t)-\(k)") && sameBytes(c.connectionID, "conn-\(t)")
                && c.metadata == ["thread": "\(t)", "k": "\(k)"]
                && c.createdAtNanos == base + UInt64(t) && c.deadlineNanos == base + UInt64(t) + UInt64(k) + 1
                && c.depth == 0 && c.parent == nil && !c.isCancelled
            if !ok { wrong.append("thread \(t) #\(k): user \(c.userID), session \(c.sessionID), request \(c.requestID)") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) contexts carry fields of another creation: \(wrong.prefix(3))")
    }

    @Test("15 threads creating contexts from every good and bad id at once get the serial answers",
          .timeLimit(.minutes(1)))
    func concurrentValidation() async {
        // Every (field, value) pair, with what a serial make() says: the error message, or the
        // context's value of that field. Each thread walks the pairs from a different offset, so
        // at any moment the threads validate different values in different fields.
        let inputs = IDField.allCases.flatMap { f in (badValues + goodValues).map { (f, $0) } }
        let expected: [Result<String?, AgentRTError>] = inputs.map { f, v in
            do throws(AgentRTError) { return .success(f.read(try f.make(v))) } catch { return .failure(error) }
        }
        #expect(expected.contains { if case .failure = $0 { true } else { false } })
        #expect(expected.contains { if case .success = $0 { true } else { false } })
        let mismatches = Recorder<String>()
        await CoreTestKit.onThreads(15) { t in
            for round in 0..<4 {
                for n in 0..<inputs.count {
                    let i = (n + t * 37 + round * 11) % inputs.count
                    let (field, value) = inputs[i]
                    let got: Result<String?, AgentRTError>
                    do throws(AgentRTError) { got = .success(field.read(try field.make(value))) } catch { got = .failure(error) }
                    switch (got, expected[i]) {
                    case (.success(let a), .success(let b)) where sameBytes(a, b) && sameBytes(a, value): continue
                    case (.failure(let a), .failure(let b)) where a.code == b.code && sameBytes(a.message, b.message): continue
                    default: mismatches.append("\(field.rawValue) = \(value.debugDescription): \(got) vs \(expected[i])")
                    }
                }
            }
        }
        #expect(mismatches.count == 0, "\(mismatches.all.prefix(3))")
    }

    @Test("100 rounds of create and clean up leave nothing behind")
    func noGrowth() throws {
        let parent = try UserExecutionContext.make(userID: "alice")
        let cleaned = Shared<Int>(0)
        var weakRefs: [() -> UserExecutionContext?] = []
        for round in 0..<100 {
            for _ in 0..<10 {
                let c = try parent.child()
                c.addCleanup { cleaned.add(1, ordering: .relaxed) }
                let g = try c.child()
                g.end()
                c.end()
                if round == 99 { weakRefs.append { [weak c] in c } }
            }
            #expect(parent.childCount == 0)
        }
        #expect(cleaned.load(ordering: .relaxed) == 1000)
        #expect(weakRefs.allSatisfy { $0() == nil })
    }
}
