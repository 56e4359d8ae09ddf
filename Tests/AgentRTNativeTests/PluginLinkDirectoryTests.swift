import Foundation
import Testing

@testable import AgentRTNative

#if canImport(Glibc)
import Glibc
#endif

// The loader's private directory of identity links (PluginLinkDirectory): it lives in $TMPDIR,
// goes away when the process exits, and the directories of processes that died without exiting
// are collected by the next one. Checked on the `agentrt` executable, as a user runs it.

private func agentrtExecutable() throws -> String {
    try #require(BuildProducts.agentrt,
                 "the agentrt executable was not found next to the test bundle; run `swift build` first (\(BuildProducts.searched))")
}

/// A new empty folder to serve as a child's TMPDIR.
private func freshDirectory() throws -> URL {
    let url = ExecFixtures.directory.appendingPathComponent("tmpdir-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func contents(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}

/// `agentrt load <plugins>` with TMPDIR set to `tmpdir`.
private func load(_ plugins: [String], tmpdir: String) async throws -> ExecProcessResult {
    var env = ProcessInfo.processInfo.environment
    env["TMPDIR"] = tmpdir
    let r = try await ExecFixtures.runProcess(try agentrtExecutable(), ["load"] + plugins, environment: env)
    #expect(!r.timedOut, "agentrt load did not finish in time")
    return r
}

/// The path after "loaded from " in the whereami fixture's refusal.
private func loadedFrom(_ stderr: String) -> String? {
    guard let r = stderr.range(of: "loaded from ") else { return nil }
    return String(stderr[r.upperBound...].prefix { $0 != "\n" })
}

/// Creates `<dir>/<name>/1-2.so`, a dangling symbolic link like the loader's.
private func makeLinkDirectory(_ dir: URL, _ name: String) throws -> URL {
    let d = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: d.appendingPathComponent("1-2.so").path,
                                               withDestinationPath: "/nonexistent/libgone.so")
    return d
}

@Suite("Plugin link directory")
struct PluginLinkDirectoryTests {
    @Test("agentrt load links plugins under $TMPDIR and leaves nothing there when it exits")
    func honoursTMPDIR() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let whereami = try await ExecFixtures.fixture("exec_whereami")
        let tmp = try freshDirectory()
        let r = try await load([basics, whereami], tmpdir: tmp.path)
        // basics loads; whereami refuses (exit 3) and says which file the linker mapped.
        #expect(r.status == 3, "status \(r.status)\n\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("basics"), "\(r.stdout)\n\(r.stderr)")
        let path = try #require(loadedFrom(r.stderr), "no \"loaded from\" in stderr: \(r.stderr)")
        #expect(path.hasPrefix(tmp.path + "/agentrt-plugins-"), "the link \(path) is not in TMPDIR \(tmp.path)")
        #expect(path.hasSuffix(".so"), "\(path)")
        #expect(contents(tmp).isEmpty, "left behind in TMPDIR: \(contents(tmp))")
    }

    @Test("a TMPDIR that is not a directory falls back to /tmp, also cleaned at exit")
    func fallsBackToTmp() async throws {
        let whereami = try await ExecFixtures.fixture("exec_whereami")
        let tmp = try freshDirectory()
        let r = try await load([whereami], tmpdir: tmp.appendingPathComponent("missing").path)
        #expect(r.status == 3, "status \(r.status)\n\(r.stderr)")
        let path = try #require(loadedFrom(r.stderr), "no \"loaded from\" in stderr: \(r.stderr)")
        #expect(path.hasPrefix("/tmp/agentrt-plugins-"), "\(path)")
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) was left behind")
        #expect(contents(tmp).isEmpty, "\(contents(tmp))")
    }

    @Test("directories of processes that are gone are removed; others are left alone")
    func collectsAbandonedDirectories() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let tmp = try freshDirectory()
        // A process that has exited (and was reaped) owns the stale directory.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let stale = try makeLinkDirectory(tmp, "agentrt-plugins-\(gone.processIdentifier)-abcdef")
        let live = try makeLinkDirectory(tmp, "agentrt-plugins-\(getpid())-ghijkl")   // this test process
        let unknown = try makeLinkDirectory(tmp, "agentrt-plugins-XyZ123")             // no owner pid
        // Enough entries to fill readdir's buffer, so that reading a name past its entry's end
        // is caught by the AddressSanitizer run.
        let filler = (0..<1500).map { String(format: "f%04d", $0) }
        for name in filler {
            #expect(FileManager.default.createFile(atPath: tmp.appendingPathComponent(name).path, contents: nil))
        }
        let r = try await load([basics], tmpdir: tmp.path)
        #expect(r.status == 0, "status \(r.status)\n\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stale.path), "\(stale.path) of a gone process is still there")
        #expect(contents(live) == ["1-2.so"], "a live process's directory was touched: \(contents(live))")
        #expect(contents(unknown) == ["1-2.so"], "a directory without an owner pid was touched: \(contents(unknown))")
        let left = contents(tmp).filter { !$0.hasPrefix("f") }
        #expect(left == [unknown.lastPathComponent, live.lastPathComponent].sorted(), "\(left)")
        #expect(contents(tmp).count == filler.count + 2)
    }

    @Test("the owner pid is read only from agentrt-plugins-<pid>-XXXXXX")
    func ownerPID() {
        #expect(PluginLinkDirectory.ownerPID(ofDirectoryNamed: "agentrt-plugins-4242-a1B2c3") == 4242)
        #expect(PluginLinkDirectory.ownerPID(ofDirectoryNamed: "agentrt-plugins-a1B2c3") == nil)
        #expect(PluginLinkDirectory.ownerPID(ofDirectoryNamed: "agentrt-plugins-12-abc") == nil)
        #expect(PluginLinkDirectory.ownerPID(ofDirectoryNamed: "agentrt-plugins-0-abcdef") == nil)
        #expect(PluginLinkDirectory.ownerPID(ofDirectoryNamed: "other-4242-abcdef") == nil)
    }
}
