import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests of the C embedding API (include/agentrt/agentrt.h) as a native host sees it: real C
// programs compiled with the system compiler against libAgentRT.so (built by `swift build`) and
// run as separate processes, so a crash in the library fails one test instead of the test run.

// MARK: - Environment

struct EmbeddingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a finished child process left behind.
struct ProcessOutcome: CustomStringConvertible {
    let command: String
    let status: Int32
    let signalled: Bool
    let timedOut: Bool
    let stdout: String
    let stderr: String

    var succeeded: Bool { !signalled && !timedOut && status == 0 }

    /// The first "FAIL ..." line a fixture printed, if any.
    var failureLine: String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("FAIL ") }.map(String.init)
    }

    var description: String {
        let how = timedOut ? "timed out and was killed"
            : signalled ? "was killed by signal \(status)" : "exited with status \(status)"
        return "\(command) \(how)\n--- stdout (last 60 lines) ---\n\(Self.tail(stdout))\n--- stderr ---\n\(Self.tail(stderr))"
    }

    private static func tail(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).suffix(60).joined(separator: "\n")
    }
}

/// Builds shared by the embedding tests: each key is built once per test process, by a task
/// every later caller awaits (no thread blocks while the compiler runs).
final class EmbeddingBuilds: @unchecked Sendable {
    private let lock = NSLock()
    private var built: [String: Task<String, any Error>] = [:]

    /// The first outcome of building `key`.
    func once(_ key: String, _ build: @escaping @Sendable () async throws -> String) async throws -> String {
        let task: Task<String, any Error> = lock.withLock {
            if let t = built[key] { return t }
            let t = Task { try await build() }
            built[key] = t
            return t
        }
        return try await task.value
    }
}

enum EmbeddingEnv {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let include = repository.appendingPathComponent("include").path
    static let capiFixtures = repository.appendingPathComponent("Tests/AgentRTNativeTests/Fixtures/capi")

    /// The build products directory: the first directory holding libAgentRT.so on the way up
    /// from the test binary (`<scratch>/debug` when run by `swift test`).
    static let products: URL? = {
        var starts: [URL] = []
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let url = URL(fileURLWithPath: first).resolvingSymlinksInPath()
            starts.append(url.standardizedFileURL)
        }
        if let exe = Bundle.main.executableURL { starts.append(exe.resolvingSymlinksInPath()) }
        starts.append(Bundle.main.bundleURL.resolvingSymlinksInPath())
        for start in starts {
            var dir = start
            while true {
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent("libAgentRT.so").path) { return dir }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path || dir.path == "/" { break }
                dir = parent
            }
        }
        return nil
    }()

    static let missingLibrary = "libAgentRT.so was not found next to the test binary or in any directory above it; "
        + "run `swift build` (with the same --scratch-path) before `swift test`"

    /// python3: /usr/bin/python3, else the first on PATH.
    static let python: String? = {
        let fm = FileManager.default
        if fm.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/python3"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// One scratch folder per test process, removed at exit.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("agentrt-embedding-\(getpid())-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: EmbeddingEnv.scratch) }
        return url
    }()

    static let builds = EmbeddingBuilds()

    /// Runs a program to completion (killing it after `timeout`), capturing stdout and stderr.
    /// Suspends while it runs: a C host taking many seconds never holds a cooperative thread.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(100),
                    environment: [String: String]? = nil) async throws -> ProcessOutcome {
        let id = UUID().uuidString
        let outURL = scratch.appendingPathComponent("out-\(id).txt")
        let errURL = scratch.appendingPathComponent("err-\(id).txt")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let command = ([executable] + arguments).joined(separator: " ")
        do { try process.run() } catch { throw EmbeddingError("cannot start \(command): \(error)") }
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return ProcessOutcome(command: command, status: process.terminationStatus,
                              signalled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
                              stdout: stdout, stderr: stderr)
    }

    /// `cc` from PATH (through /usr/bin/env), as a host author would call it.
    static func cc(_ arguments: [String]) async throws(EmbeddingError) {
        let outcome: ProcessOutcome
        do { outcome = try await run("/usr/bin/env", ["cc"] + arguments, timeout: .seconds(90)) } catch {
            throw EmbeddingError("cannot run cc: \(error)")
        }
        guard outcome.succeeded else { throw EmbeddingError("compilation failed: \(outcome)") }
    }

    /// A C plugin built like any third-party plugin: `cc -std=c99 -shared -fPIC -fvisibility=hidden`.
    static func plugin(_ name: String, source: String) async throws -> String {
        try await builds.once("plugin:\(name)") {
            let output = scratch.appendingPathComponent("lib\(name).so").path
            try await cc(["-std=c99", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include,
                    repository.appendingPathComponent(source).path, "-o", output])
            return output
        }
    }

    static func basics() async throws -> String { try await plugin("basics", source: "plugins/c-basics/basics.c") }
    static func guards() async throws -> String { try await plugin("guards", source: "plugins/c-guards/guards.c") }

    /// Whether libAgentRT.so was built with ThreadSanitizer (`swift build --sanitize=thread`).
    static let libraryUsesTSan = libraryMentions("__tsan_init")
    /// Whether libAgentRT.so was built with AddressSanitizer (`swift build --sanitize=address`).
    static let libraryUsesASan = libraryMentions("__asan_init")

    /// The sanitizer libAgentRT.so was built with, as clang's `-fsanitize=` value, if any.
    static var librarySanitizer: String? { libraryUsesTSan ? "thread" : libraryUsesASan ? "address" : nil }

    private static func libraryMentions(_ symbol: String) -> Bool {
        guard let products, let data = FileManager.default.contents(atPath: products.appendingPathComponent("libAgentRT.so").path)
        else { return false }
        return data.range(of: Data(symbol.utf8)) != nil
    }

    /// A C host program linked against libAgentRT.so with an rpath to the products directory.
    /// Against a sanitizer build (TSan or ASan) the host is compiled with the Swift toolchain's
    /// clang and the same `-fsanitize=`, so the C API runs under that sanitizer too (its runtime
    /// must be the first library the process loads).
    static func host(_ name: String, source: URL, products: URL) async throws -> String {
        try await builds.once("host:\(name)") {
            let output = scratch.appendingPathComponent(name).path
            let common = ["-std=c11", "-I", include, source.path, "-L", products.path, "-lAgentRT",
                          "-Wl,-rpath,\(products.path)", "-lpthread", "-o", output]
            if let sanitizer = librarySanitizer {
                let swiftLib = toolchainLibDirectory
                let outcome: ProcessOutcome
                do {
                    outcome = try await run("/usr/bin/env", ["clang", "-fsanitize=\(sanitizer)"] + common
                                      + ["-L", swiftLib, "-ldispatch", "-lBlocksRuntime", "-Wl,-rpath,\(swiftLib)"],
                                      timeout: .seconds(90))
                } catch { throw EmbeddingError("cannot run clang: \(error)") }
                guard outcome.succeeded else { throw EmbeddingError("compilation failed: \(outcome)") }
            } else {
                try await cc(common)
            }
            return output
        }
    }

    /// The Swift toolchain's runtime libraries (lib/swift/linux next to the `swift` on PATH).
    static let toolchainLibDirectory: String = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let swift = "\(dir)/swift"
            if FileManager.default.isExecutableFile(atPath: swift) {
                let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath()
                return real.deletingLastPathComponent().deletingLastPathComponent()
                    .appendingPathComponent("lib/swift/linux").path
            }
        }
        return "/opt/swift/usr/lib/swift/linux"
    }()

    static func requireProducts() throws -> URL {
        try #require(products, Comment(rawValue: missingLibrary))
    }
}

/// The sections of Fixtures/capi/misuse.c, one test case each.
private let misuseSections = [
    "info", "handles", "handle_messages", "args", "null_names", "async", "cancel", "replay", "json_tool", "native_tool",
    "free_releases",
]

// MARK: - Tests

@Suite("Embedding C API (libAgentRT)", .serialized)
struct EmbeddingTests {
    @Test("products directory holds libAgentRT.so")
    func productsDirectory() throws {
        let products = try EmbeddingEnv.requireProducts()
        #expect(FileManager.default.fileExists(atPath: products.appendingPathComponent("libAgentRT.so").path))
    }

    @Test("examples/c-host runs basics.delegate for 4 users with host.multiply", .timeLimit(.minutes(2)))
    func cHostExample() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let basics = try await EmbeddingEnv.basics()
        let host = try await EmbeddingEnv.host(
            "c-host", source: EmbeddingEnv.repository.appendingPathComponent("examples/c-host/host.c"), products: products)
        let outcome = try await EmbeddingEnv.run(host, [basics])
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.stdout.contains("OK: every user saw only their own events"), "\(outcome)")
        // The plugin's calls reached the host's tool with its bound user data (host.c checks the magic).
        #expect(outcome.stdout.contains("host.multiply was called 20 times with the right user data"), "\(outcome)")
    }

    @Test("the library logs nothing unless asked; agentrt_set_log_callback gets sanitised lines (Fixtures/capi/logging.c)",
          .timeLimit(.minutes(2)))
    func loggingContract() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let plugin = try await ExecFixtures.fixture("exec_cli")
        let program = try await EmbeddingEnv.host(
            "logging", source: EmbeddingEnv.capiFixtures.appendingPathComponent("logging.c"), products: products)
        let outcome = try await EmbeddingEnv.run(program, [plugin])
        #expect(outcome.succeeded && outcome.stdout.contains("logging: OK"), "\(outcome)")
        #expect(!outcome.stderr.contains("line one"), "the library wrote to the host's stderr: \(outcome)")
    }

    @Test("examples/python-host drives the library through ctypes", .timeLimit(.minutes(2)),
          .enabled(if: EmbeddingEnv.python != nil, "python3 is not installed"),
          .enabled(if: EmbeddingEnv.librarySanitizer == nil, "a sanitizer build of libAgentRT.so cannot load into python3"))
    func pythonHostExample() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let python = try #require(EmbeddingEnv.python)
        let basics = try await EmbeddingEnv.basics()
        let script = EmbeddingEnv.repository.appendingPathComponent("examples/python-host/host.py").path
        let outcome = try await EmbeddingEnv.run(python, [script, products.appendingPathComponent("libAgentRT.so").path, basics])
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.stdout.contains("OK: every user saw only their own events"), "\(outcome)")
    }

    @Test("misuse returns the documented status, never a crash (Fixtures/capi/misuse.c)", .timeLimit(.minutes(2)),
          arguments: misuseSections)
    func misuse(section: String) async throws {
        let products = try EmbeddingEnv.requireProducts()
        let basics = try await EmbeddingEnv.basics()
        let guards = try await EmbeddingEnv.guards()
        let program = try await EmbeddingEnv.host(
            "misuse", source: EmbeddingEnv.capiFixtures.appendingPathComponent("misuse.c"), products: products)
        let outcome = try await EmbeddingEnv.run(program, [basics, guards, section])
        guard outcome.succeeded else {
            Issue.record(Comment(rawValue: "\(outcome.failureLine ?? "misuse \(section) did not pass")\n\(outcome)"))
            return
        }
        #expect(outcome.stdout.contains("OK \(section):"), "\(outcome)")
    }

    @Test("a C host runs an isolated crashing plugin and a healthy in-process one at once (Fixtures/capi/isolated.c)",
          .timeLimit(.minutes(2)))
    func isolatedBesideInProcess() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let crashing = try await ExecFixtures.isolationFixture("iso_crash")
        let healthy = try await ExecFixtures.fixture("exec_tools")
        let program = try await EmbeddingEnv.host(
            "isolated", source: EmbeddingEnv.capiFixtures.appendingPathComponent("isolated.c"), products: products)
        let outcome = try await EmbeddingEnv.run(program, [crashing, healthy])
        guard outcome.succeeded else {
            Issue.record(Comment(rawValue: "\(outcome.failureLine ?? "isolated did not pass")\n\(outcome)"))
            return
        }
        #expect(outcome.stdout.contains("OK: 300 healthy results exact"), "\(outcome)")
    }

    @Test("8 threads x 200 runs with subscription churn and random cancels (Fixtures/capi/stress.c)",
          .timeLimit(.minutes(2)))
    func stress() async throws {
        let products = try EmbeddingEnv.requireProducts()
        let basics = try await EmbeddingEnv.basics()
        let guards = try await EmbeddingEnv.guards()
        let program = try await EmbeddingEnv.host(
            "stress", source: EmbeddingEnv.capiFixtures.appendingPathComponent("stress.c"), products: products)
        let outcome = try await EmbeddingEnv.run(program, [basics, guards])
        guard outcome.succeeded else {
            Issue.record(Comment(rawValue: "\(outcome.failureLine ?? "stress did not pass")\n\(outcome)"))
            return
        }
        #expect(outcome.stdout.split(separator: "\n").contains { $0.hasPrefix("OK: ") }, "\(outcome)")
    }
}
