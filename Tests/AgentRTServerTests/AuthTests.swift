import AgentRTCore
import Testing
@testable import AgentRTServer
#if canImport(Glibc)
import Glibc
#endif

@Suite("Server auth and tokens")
struct AuthTests {
    @Test("SHA-256 matches the FIPS 180-4 vectors")
    func sha256Vectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // 55, 56 and 64 bytes: the padding boundaries.
        #expect(SHA256.hex(String(repeating: "a", count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hex(String(repeating: "a", count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(SHA256.hex(String(repeating: "a", count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test("token add writes user, role and digest to a 0600 file, never the token")
    func tokenFile() throws {
        let path = "/tmp/agentrt-token-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let t1 = try TokenIssuer.add(path: path, userID: "alice", role: .user)
        let t2 = try TokenIssuer.add(path: path, userID: "root", role: .admin)
        #expect(t1 != t2)
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        let text = TokenStore.readFile(path) ?? ""
        #expect(!text.contains(t1) && !text.contains(t2))
        #expect(text == "alice user \(SHA256.hex(t1))\nroot admin \(SHA256.hex(t2))\n")
        let store = try TokenStore(path: path)
        #expect(store.principal(for: t1) == Principal(userID: "alice", role: .user))
        #expect(store.principal(for: t2)?.isAdmin == true)
        #expect(store.principal(for: "nope") == nil)
        #expect(throws: TokenFileError.self) { try TokenIssuer.add(path: path, userID: "a b", role: .user) }
    }

    @Test("requests without a valid token get 401 with a JSON error body")
    func unauthorized() async throws {
        let h = try await ServerHarness.start()
        do {
            for path in ["/v1/agents", "/v1/tools", "/v1/runs/x", "/v1/events", "/v1/stats"] {
                let none = try await h.get(path, token: nil)
                #expect(none.status == 401, "\(path)")
                #expect(none.errorCode == "unauthorized")
                #expect(none.header("WWW-Authenticate") == "Bearer")
                let bad = try await h.get(path, token: "art_0000")
                #expect(bad.status == 401, "\(path)")
                let scheme = try await h.get(path, token: nil, headers: [("Authorization", "Basic YTpi")])
                #expect(scheme.status == 401, "\(path)")
            }
            let post = try await h.startRun("t.echo", token: "wrong")
            #expect(post.status == 401)
            // ?access_token is for SSE and WebSocket only.
            let query = try await h.get("/v1/agents?access_token=\(h.alice)", token: nil)
            #expect(query.status == 401)
            await #expect(throws: TestWebSocket.Rejected.self) {
                _ = try await TestWebSocket.open(port: h.port, token: "wrong")
            }
            // A refused upgrade is 401 too (UpgradeRefusalTests checks its body); so is a plain GET.
            do {
                _ = try await TestWebSocket.open(port: h.port, token: nil)
                Issue.record("an unauthenticated WebSocket was upgraded")
            } catch let r as TestWebSocket.Rejected {
                #expect(r.status == 401)
            }
            let plain = try await h.get("/v1/stream", token: nil)
            #expect(plain.status == 401)
            #expect(plain.errorCode == "unauthorized")
            #expect(try await h.get("/v1/stream?access_token=bad", token: nil).status == 401)
            let ok = try await h.get("/v1/agents", token: h.alice)
            #expect(ok.status == 200)
        }
        try await h.stop()
    }

    @Test("admin endpoints need an admin token; the token file is re-read when it changes")
    func adminAndReload() async throws {
        let h = try await ServerHarness.start()
        do {
            #expect(try await h.get("/v1/stats", token: h.alice).status == 403)
            #expect(try await h.get("/v1/users", token: h.alice).status == 403)
            let stats = try await h.get("/v1/stats", token: h.admin)
            #expect(stats.status == 200)
            #expect(stats.json.objectValue != nil)
            let users = try await h.get("/v1/users", token: h.admin)
            #expect(users.status == 200)
            #expect(users.json["users"]?.arrayValue != nil)

            // A user added while the server runs works at once.
            let carol = try TokenIssuer.add(path: h.tokenPath, userID: "carol", role: .user)
            let r = try await h.startRun("t.echo", token: carol, input: "{\"hi\":1}", wait: true)
            #expect(r.status == 200)
            #expect(r.json["result"]?["hi"]?.numberValue?.int64 == 1)
        }
        try await h.stop()
    }
}
