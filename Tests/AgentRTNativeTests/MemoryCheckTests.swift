import Foundation
import Testing

// The memory and thread check of the embedding API (Fixtures/capi/memcheck.c): three rounds of
// runtime_new … runtime_free in one process, 1,000 users x 10 runs with one subscription per
// user, judged on the streams, on heap growth from round 1 to round 3 and on the thread count
// after each round. `scripts/memcheck.sh` runs the same program by hand.

@Suite("Embedding memory check (Fixtures/capi/memcheck.c)")
struct MemoryCheckTests {
    @Test("3 rounds of 1,000 users x 10 runs give back their heap and threads after agentrt_runtime_free",
          .timeLimit(.minutes(5)))
    func roundsGiveBackMemoryAndThreads() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let basics = try await EmbeddingEnv.basics()
        let program = try await EmbeddingEnv.host(
            "memcheck", source: EmbeddingEnv.capiFixtures.appendingPathComponent("memcheck.c"), products: products)
        // Under a sanitizer (whose allocator memcheck reads instead of mallinfo2) runs are many
        // times slower: 200 users, where 1 MiB of slack is still ~260 bytes per run.
        let arguments = [basics] + (EmbeddingEnv.librarySanitizer == nil ? [] : ["200", "10", "3"])
        let outcome = try await EmbeddingEnv.run(program, arguments, timeout: .seconds(280))
        let figures = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("round ") || $0.hasPrefix("FAIL ") }
        print(figures.joined(separator: "\n"))
        #expect(figures.filter { $0.hasPrefix("round ") }.count == 3, "expected 3 round lines\n\(outcome)")
        #expect(outcome.succeeded && outcome.stdout.contains("memcheck: OK"), "\(outcome)")
    }
}
