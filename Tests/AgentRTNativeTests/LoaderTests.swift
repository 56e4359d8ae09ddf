import AgentRTCore
import CAgentRT
import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Fixtures

struct LoaderFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The loader corpus in Tests/AgentRTNativeTests/Fixtures/bad, compiled on demand with the
/// command a plugin author uses (`cc -std=c99 -shared -fPIC -fvisibility=hidden -I include`) into
/// one temporary folder per test process. Each fixture is compiled once; tests that count
/// entry calls or need their own plugin identity take a `freshCopy` (a new inode, hence a new
/// library for both dlopen and the loader).
enum LoaderFixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sources = repository.appendingPathComponent("Tests/AgentRTNativeTests/Fixtures/bad")
    static let include = repository.appendingPathComponent("include")

    /// The per-run folder; removed when the test process exits.
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("agentrt-loader-\(getpid())-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: LoaderFixtures.directory) }
        return url
    }()

    private static let compiled = Locked<[String: Result<String, LoaderFixtureError>]>([:])
    private static let counter = Locked(0)

    /// The path of `lib<name>.so`, built from `Fixtures/bad/<name>.c`.
    static func library(_ name: String) throws -> String {
        try compiled.withLock { cache -> Result<String, LoaderFixtureError> in
            if let done = cache[name] { return done }
            let result = Result { () throws(LoaderFixtureError) -> String in try compile(name) }
            cache[name] = result
            return result
        }.get()
    }

    private static func compile(_ name: String) throws(LoaderFixtureError) -> String {
        let source = sources.appendingPathComponent("\(name).c").path
        let output = directory.appendingPathComponent("lib\(name).so").path
        let (status, log) = try run("/usr/bin/cc", ["-std=c99", "-shared", "-fPIC", "-fvisibility=hidden",
                                                    "-I", include.path, source, "-o", output])
        guard status == 0 else { throw LoaderFixtureError("cc failed to build \(name).c (status \(status)):\n\(log)") }
        return output
    }

    /// A copy of fixture `name` under a new file name (and a new inode).
    static func freshCopy(_ name: String) throws -> String {
        let original = try library(name)
        let n = counter.withLock { value -> Int in value += 1; return value }
        let copy = directory.appendingPathComponent("lib\(name)-copy\(n).so").path
        try FileManager.default.copyItem(atPath: original, toPath: copy)
        return copy
    }

    /// A new empty folder inside the per-run folder.
    static func scratchFolder(_ label: String) throws -> URL {
        let n = counter.withLock { value -> Int in value += 1; return value }
        let url = directory.appendingPathComponent("\(label)-\(n)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program to completion; returns its status and its merged stdout/stderr.
    static func run(_ executable: String, _ arguments: [String]) throws(LoaderFixtureError) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { throw LoaderFixtureError("cannot run \(executable): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// How many times good_minimal's entry ran in the library mapped from `path`.
    static func minimalEntryCount(_ path: String) throws -> Int32 {
        // RTLD_NOLOAD: only find a library the loader already mapped; never map a new one.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) else {
            throw LoaderFixtureError("\(path) is not loaded")
        }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "minimal_entry_count") else {
            throw LoaderFixtureError("\(path) does not export minimal_entry_count")
        }
        typealias CountFn = @convention(c) () -> Int32
        return unsafeBitCast(symbol, to: CountFn.self)()
    }
}

/// Loads `path` with `loader`, expecting a refusal; records an issue (and returns nil) if it loads.
private func refusal(_ path: String, loader: PluginLoader = PluginLoader(),
                     sourceLocation: SourceLocation = #_sourceLocation) -> PluginLoadError? {
    do {
        let plugin = try loader.load(path: path)
        Issue.record("\(path) loaded as plugin \"\(plugin.name)\" but should have been refused",
                     sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// The checks every refusal must pass: its code, its path, a message that starts with the file's
/// name, and the words that say what exactly is wrong.
private func expectRefusal(_ error: PluginLoadError, path: String, code: PluginLoadError.Code, words: [String],
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let file = URL(fileURLWithPath: path).lastPathComponent
    #expect(error.code == code, "message: \(error.message)", sourceLocation: sourceLocation)
    #expect(error.path == path, sourceLocation: sourceLocation)
    #expect(error.message.hasPrefix("\(file): "), "message: \(error.message)", sourceLocation: sourceLocation)
    #expect(error.description == error.message, sourceLocation: sourceLocation)
    for word in words {
        #expect(error.message.contains(word), "\"\(word)\" missing from: \(error.message)",
                sourceLocation: sourceLocation)
    }
}

// MARK: - Refusals

/// One bad plugin of the corpus and what the loader must say about it.
struct BadPlugin: Sendable, CustomTestStringConvertible {
    let fixture: String
    let code: PluginLoadError.Code
    let words: [String]

    init(_ fixture: String, _ code: PluginLoadError.Code, _ words: [String]) {
        self.fixture = fixture
        self.code = code
        self.words = words
    }

    var testDescription: String { "\(fixture) → \(code.rawValue)" }
}

/// C's sizeof for an imported struct (Swift's `size` leaves out tail padding; `stride` does not).
private let pluginSize = MemoryLayout<agentrt_plugin>.stride
private let agentSize = MemoryLayout<agentrt_agent>.stride
private let pointerSize = MemoryLayout<UnsafeRawPointer>.size
private let hostVersion = "\(AGENTRT_ABI_MAJOR).\(AGENTRT_ABI_MINOR)"
private let newerVersion = "\(AGENTRT_ABI_MAJOR).\(AGENTRT_ABI_MINOR + 1)"

@Suite("PluginLoader")
struct LoaderTests {
    static let badPlugins: [BadPlugin] = [
        // The magic, read before any plugin code runs. These fixtures otherwise carry a valid
        // descriptor: a loader that skipped the check would load them and fail the test.
        BadPlugin("no_magic", .missingMagic, ["agentrt_plugin_magic", "does not export"]),
        BadPlugin("no_entry", .missingEntry, ["agentrt_plugin_entry"]),
        BadPlugin("other_major", .abiMajorMismatch, ["2.0", "\(AGENTRT_ABI_MAJOR).x"]),
        BadPlugin("newer_minor", .abiTooNew, [newerVersion, hostVersion]),
        BadPlugin("wrong_pointer_size", .pointerSizeMismatch, ["4-byte", "\(pointerSize)-byte"]),
        BadPlugin("bad_tag", .badMagic, ["tag", "0x58585858", "0x54524741"]),
        // The entry and init.
        BadPlugin("entry_null", .entryReturnedNull, ["agentrt_plugin_entry", "NULL"]),
        BadPlugin("init_fails", .initFailed, ["init_fails", "agent_error", "database url missing"]),
        // The descriptor.
        BadPlugin("null_agent_name", .invalidDescriptor, ["agent[0]", "NULL name"]),
        BadPlugin("duplicate_agent_names", .invalidDescriptor, ["\"echo\"", "unique"]),
        BadPlugin("bad_agent_chars", .invalidDescriptor, ["agent[0]", "\"Bad Name!\"", "a-z"]),
        BadPlugin("wrong_plugin_struct_size", .invalidDescriptor,
                  ["agentrt_plugin.struct_size", "is \(pluginSize - 8)", "expected \(pluginSize)"]),
        BadPlugin("wrong_agent_struct_size", .invalidDescriptor,
                  ["agent[0].struct_size", "is \(agentSize - 8)", "expected \(agentSize)", "sizeof(agentrt_agent)"]),
        BadPlugin("count_mismatch", .invalidDescriptor, ["agent[2]", "agent_count is 3", "only 2"]),
        BadPlugin("null_agents_array", .invalidDescriptor, ["agent_count is 2", "NULL"]),
        BadPlugin("no_run_function", .invalidDescriptor, ["\"idle\"", "no run function"]),
        BadPlugin("unknown_agent_flags", .invalidDescriptor, ["\"odd\"", "unknown flags 0x7"]),
        BadPlugin("bad_tool_prototype", .invalidDescriptor, ["\"bar\"", "prototype", "\"struct foo\""]),
        BadPlugin("invalid_schema_json", .invalidDescriptor, ["\"strict\"", "input_schema", "not valid JSON"]),
    ]

    @Test("a bad plugin is refused with its code and a precise message", arguments: badPlugins)
    func badPluginIsRefused(_ bad: BadPlugin) throws {
        let path = try LoaderFixtures.library(bad.fixture)
        let loader = PluginLoader()
        let error = try #require(refusal(path, loader: loader))
        expectRefusal(error, path: path, code: bad.code, words: bad.words)
        // Nothing of a refused plugin is kept, and a retry is refused the same way.
        #expect(loader.plugins.isEmpty)
        #expect(refusal(path, loader: loader) == error)
        #expect(loader.plugins.isEmpty)
    }

    @Test("the corpus has a test case for every fixture in Fixtures/bad")
    func everyFixtureIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: LoaderFixtures.sources.path)
        let fixtures = Set(files.filter { $0.hasSuffix(".c") }.map { String($0.dropLast(2)) })
        let covered = Set(Self.badPlugins.map(\.fixture) + ["good_minimal"])
        #expect(fixtures == covered)
    }

    @Test("a missing file is file_not_found")
    func missingFile() throws {
        let path = LoaderFixtures.directory.appendingPathComponent("libdoes_not_exist.so").path
        let error = try #require(refusal(path))
        expectRefusal(error, path: path, code: .fileNotFound, words: ["cannot open", "No such file"])
    }

    @Test("a directory is file_not_found")
    func directory() throws {
        let folder = try LoaderFixtures.scratchFolder("libfolder.so")
        let error = try #require(refusal(folder.path))
        expectRefusal(error, path: folder.path, code: .fileNotFound, words: ["not a regular file"])
    }

    enum NotAnELF: String, Sendable, CaseIterable {
        case text, empty
    }

    @Test("a file that is not ELF is not_loadable", arguments: NotAnELF.allCases)
    func notAnELF(_ kind: NotAnELF) throws {
        let path = try LoaderFixtures.scratchFolder("text").appendingPathComponent("lib\(kind.rawValue).so").path
        let contents = kind == .text ? "this is a text file renamed to .so, not a shared library\n" : ""
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(refusal(path))
        expectRefusal(error, path: path, code: .notLoadable, words: ["not an ELF"])
    }

    @Test("an ELF object file (not a shared library) is not_loadable")
    func objectFile() throws {
        let folder = try LoaderFixtures.scratchFolder("object")
        let path = folder.appendingPathComponent("libobject.so").path
        let source = LoaderFixtures.sources.appendingPathComponent("good_minimal.c").path
        let (status, log) = try LoaderFixtures.run(
            "/usr/bin/cc", ["-std=c99", "-c", "-fPIC", "-I", LoaderFixtures.include.path, source, "-o", path])
        try #require(status == 0, "\(log)")
        let error = try #require(refusal(path))
        expectRefusal(error, path: path, code: .notLoadable, words: ["not an ELF shared object", "ELF type 1"])
    }

    @Test("a position-independent executable is refused by the dynamic linker: not_loadable")
    func executable() throws {
        let folder = try LoaderFixtures.scratchFolder("pie")
        let source = folder.appendingPathComponent("main.c").path
        let path = folder.appendingPathComponent("libexecutable.so").path
        try "int main(void) { return 0; }\n".write(toFile: source, atomically: true, encoding: .utf8)
        let (status, log) = try LoaderFixtures.run("/usr/bin/cc", ["-fPIE", "-pie", source, "-o", path])
        try #require(status == 0, "\(log)")
        let error = try #require(refusal(path))
        expectRefusal(error, path: path, code: .notLoadable, words: ["dynamic linker refused"])
    }

    // MARK: - Loading a good plugin

    @Test("good_minimal loads with its name, version and agent")
    func goodPluginLoads() throws {
        let path = try LoaderFixtures.freshCopy("good_minimal")
        let loader = PluginLoader()
        let plugin = try loader.load(path: path)
        #expect(plugin.path == path)
        #expect(plugin.name == "minimal")
        #expect(plugin.version == "0.1.0")
        #expect(plugin.description == "The smallest valid plugin.")
        #expect(plugin.abiMajor == UInt16(AGENTRT_ABI_MAJOR))
        #expect(plugin.abiMinor == UInt16(AGENTRT_ABI_MINOR))
        #expect(plugin.tools.isEmpty)
        #expect(plugin.state == nil)
        #expect(plugin.agents.map(\.descriptor.name) == ["echo"])
        let echo = try #require(plugin.agent(named: "echo"))
        #expect(echo.descriptor == AgentDescriptor(
            plugin: "minimal", name: "echo", description: "Returns its input unchanged.",
            inputSchema: try JSONValue.parse("{\"type\":\"object\"}"), threadSafe: true,
            defaultTimeout: .milliseconds(2500), hasSessionHooks: false, returnsPromptly: true))
        #expect(echo.descriptor.qualifiedName == "minimal.echo")
        #expect(plugin.agent(named: "missing") == nil)
        #expect(loader.plugin(named: "minimal") === plugin)
        #expect(loader.plugins.count == 1)
        #expect(try LoaderFixtures.minimalEntryCount(path) == 1)
    }

    @Test("loading the same file twice returns the same plugin and runs its entry once")
    func sameFileTwice() throws {
        let path = try LoaderFixtures.freshCopy("good_minimal")
        let loader = PluginLoader()
        let first = try loader.load(path: path)
        let second = try loader.load(path: path)
        #expect(first === second)
        #expect(loader.plugins.count == 1)
        #expect(try LoaderFixtures.minimalEntryCount(path) == 1)
    }

    enum Link: String, Sendable, CaseIterable {
        case symbolic, hard
    }

    @Test("another path to the same file (same device and inode) is the same plugin", arguments: Link.allCases)
    func sameInode(_ link: Link) throws {
        let path = try LoaderFixtures.freshCopy("good_minimal")
        let alias = try LoaderFixtures.scratchFolder("link").appendingPathComponent("libalias.so").path
        switch link {
        case .symbolic: try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: path)
        case .hard: try FileManager.default.linkItem(atPath: path, toPath: alias)
        }
        let loader = PluginLoader()
        let original = try loader.load(path: path)
        let viaAlias = try loader.load(path: alias)
        #expect(original === viaAlias)
        #expect(viaAlias.path == path, "the plugin keeps the path it was first loaded from")
        #expect(loader.plugins.count == 1)
        #expect(try LoaderFixtures.minimalEntryCount(path) == 1)
    }

    @Test("16 threads loading one file at once get one plugin, and its entry ran once")
    func concurrentLoads() throws {
        let path = try LoaderFixtures.freshCopy("good_minimal")
        let loader = PluginLoader()
        let results = Locked<[Result<NativePlugin, PluginLoadError>]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let result = Result { () throws(PluginLoadError) -> NativePlugin in try loader.load(path: path) }
            results.withLock { $0.append(result) }
        }
        let plugins = try results.withLock { $0 }.map { try $0.get() }
        #expect(plugins.count == 16)
        let first = try #require(plugins.first)
        #expect(plugins.allSatisfy { $0 === first })
        #expect(loader.plugins.count == 1)
        #expect(try LoaderFixtures.minimalEntryCount(path) == 1)
    }

    @Test("a second file with an already loaded plugin's name is duplicate_plugin")
    func duplicatePluginName() throws {
        let first = try LoaderFixtures.freshCopy("good_minimal")
        let second = try LoaderFixtures.freshCopy("good_minimal")
        let loader = PluginLoader()
        let plugin = try loader.load(path: first)
        let error = try #require(refusal(second, loader: loader))
        expectRefusal(error, path: second, code: .duplicatePlugin, words: ["\"minimal\"", "already loaded", first])
        #expect(loader.plugins.count == 1)
        #expect(loader.plugin(named: "minimal") === plugin)
        // Loaders are independent: another one accepts the second file.
        #expect(try PluginLoader().load(path: second).name == "minimal")
    }

    @Test("a plugin rebuilt in place (same path, new inode) loads its new contents")
    func replacedFile() throws {
        let folder = try LoaderFixtures.scratchFolder("replaced")
        let path = folder.appendingPathComponent("libreplaced.so").path
        try FileManager.default.copyItem(atPath: try LoaderFixtures.library("init_fails"), toPath: path)
        let first = try #require(refusal(path))
        #expect(first.code == .initFailed)
        // The author fixes the plugin and rebuilds it where it was: a new file (new inode), same path.
        let staged = folder.appendingPathComponent("staged.so").path
        try FileManager.default.copyItem(atPath: try LoaderFixtures.library("good_minimal"), toPath: staged)
        try #require(rename(staged, path) == 0)
        // glibc's dlopen() matches an already-open library by its path string; the loader opens
        // through a link named after the file's identity, so the new inode is really loaded.
        let plugin = try PluginLoader().load(path: path)
        #expect(plugin.name == "minimal")
    }

    // MARK: - The header

    struct Dialect: Sendable, CustomTestStringConvertible {
        let compiler: String
        let standard: String
        let fileExtension: String
        var testDescription: String { "\(compiler) -std=\(standard)" }
    }

    static let dialects = [
        Dialect(compiler: "/usr/bin/cc", standard: "c99", fileExtension: "c"),
        Dialect(compiler: "/usr/bin/c++", standard: "c++11", fileExtension: "cpp"),
    ]

    private static func compileHeaderUser(_ dialect: Dialect, defineLine: String) throws -> (Int32, String) {
        let folder = try LoaderFixtures.scratchFolder("header")
        let source = folder.appendingPathComponent("uses_header.\(dialect.fileExtension)").path
        let text = """
            #include <agentrt/plugin.h>

            static const agentrt_plugin *my_entry(const agentrt_host *host) {
                (void)host;
                return NULL;
            }

            \(defineLine)

            """
        try text.write(toFile: source, atomically: true, encoding: .utf8)
        return try LoaderFixtures.run(dialect.compiler, [
            "-std=\(dialect.standard)", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only",
            "-I", LoaderFixtures.include.path, source,
        ])
    }

    @Test("include/agentrt/plugin.h compiles standalone, warning-free", arguments: dialects)
    func headerCompiles(_ dialect: Dialect) throws {
        let (status, log) = try Self.compileHeaderUser(dialect, defineLine: "AGENTRT_DEFINE_PLUGIN(my_entry);")
        #expect(status == 0, "\(log)")
        #expect(log.isEmpty, "\(log)")
    }

    @Test("AGENTRT_DEFINE_PLUGIN(entry) needs its semicolon, like a declaration", arguments: dialects)
    func headerMacroNeedsSemicolon(_ dialect: Dialect) throws {
        // The macro ends with a declaration, so `AGENTRT_DEFINE_PLUGIN(entry);` is the one spelling
        // that is clean in C99 -Wpedantic and C++.
        let (status, _) = try Self.compileHeaderUser(dialect, defineLine: "AGENTRT_DEFINE_PLUGIN(my_entry)")
        #expect(status != 0)
    }

    // MARK: - Status names

    @Test("HostStatus raw values and names match agentrt_status_name in the header")
    func statusNamesMatchHeader() {
        let count = Int32(AGENTRT_STATUS_COUNT_)
        #expect(HostStatus.allCases.count == Int(count))
        #expect(HostStatus.allCases.map(\.rawValue) == Array(0..<count))
        for raw in Int32(-2)...(count + 2) {
            let headerName = String(cString: agentrt_status_name(raw))
            if let status = HostStatus(rawValue: raw) {
                #expect(status.name == headerName, "status \(raw)")
            } else {
                #expect(headerName == "unknown_status", "status \(raw)")
                #expect(raw < 0 || raw >= count, "status \(raw) has a name in the header but no HostStatus")
            }
        }
        #expect(String(cString: agentrt_status_name(Int32.min)) == "unknown_status")
        #expect(String(cString: agentrt_status_name(Int32.max)) == "unknown_status")
    }

    @Test("HostStatus raw values equal the header's AGENTRT_* constants")
    func statusConstantsMatchHeader() {
        let table: [(HostStatus, Int32)] = [
            (.ok, Int32(AGENTRT_OK)), (.invalidContext, Int32(AGENTRT_ERR_INVALID_CONTEXT)),
            (.overloaded, Int32(AGENTRT_ERR_OVERLOADED)), (.circuitOpen, Int32(AGENTRT_ERR_CIRCUIT_OPEN)),
            (.quarantined, Int32(AGENTRT_ERR_QUARANTINED)), (.timeout, Int32(AGENTRT_ERR_TIMEOUT)),
            (.noHeartbeat, Int32(AGENTRT_ERR_NO_HEARTBEAT)), (.cancelled, Int32(AGENTRT_ERR_CANCELLED)),
            (.agentError, Int32(AGENTRT_ERR_AGENT_ERROR)), (.invalidOutput, Int32(AGENTRT_ERR_INVALID_OUTPUT)),
            (.crashed, Int32(AGENTRT_ERR_CRASHED)), (.notFound, Int32(AGENTRT_ERR_NOT_FOUND)),
            (.internal, Int32(AGENTRT_ERR_INTERNAL)), (.invalidArgument, Int32(AGENTRT_ERR_INVALID_ARGUMENT)),
            (.invalidHandle, Int32(AGENTRT_ERR_INVALID_HANDLE)), (.staleHandle, Int32(AGENTRT_ERR_STALE_HANDLE)),
            (.invalidJSON, Int32(AGENTRT_ERR_INVALID_JSON)), (.reservedType, Int32(AGENTRT_ERR_RESERVED_TYPE)),
            (.badArguments, Int32(AGENTRT_ERR_BAD_ARGUMENTS)), (.unsupported, Int32(AGENTRT_ERR_UNSUPPORTED)),
            (.tooLarge, Int32(AGENTRT_ERR_TOO_LARGE)), (.alreadySet, Int32(AGENTRT_ERR_ALREADY_SET)),
            (.loadFailed, Int32(AGENTRT_ERR_LOAD_FAILED)), (.typeMismatch, Int32(AGENTRT_ERR_TYPE_MISMATCH)),
        ]
        #expect(table.count == HostStatus.allCases.count)
        for (status, constant) in table {
            #expect(status.rawValue == constant, "\(status)")
        }
    }
}
