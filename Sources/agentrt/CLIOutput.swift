import AgentRTCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The CLI's own output channel. Plugins run in this process and may write to fd 1; so the
/// moment a command is about to load plugins it moves the real stdout to a private descriptor
/// and points fd 1 at stderr: a plugin's `printf` lands on stderr and can never forge a line of
/// the event stream (`--format jsonl`) that a consumer parses.
enum CLIOutput {
    /// The private descriptor holding the original stdout (claimed on first use).
    static let fd: Int32 = {
        fflush(nil)   // every C stdio stream
        let d = fcntl(1, F_DUPFD_CLOEXEC, 3)
        guard d >= 0 else { return 1 }
        dup2(2, 1)
        return d
    }()

    /// Claims the channel now (before any plugin code runs).
    static func claim() { _ = fd }

    /// Writes `text` and a newline to the CLI's stdout, whole.
    static func line(_ text: String) { write(text + "\n") }

    /// Writes `text` to the CLI's stdout, whole.
    static func write(_ text: String) {
        var s = text
        s.withUTF8 { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 { if errno == EINTR { continue } else { return } }
                off += n
            }
        }
    }
}

/// Prints the CLI's own output (never through fd 1, which plugins share).
func out(_ text: String, terminator: String = "\n") {
    if terminator == "\n" { CLIOutput.line(text) } else { CLIOutput.write(text + terminator) }
}

/// Notices a plugin that ends the process (`exit()` from inside an agent; `_exit` and `quick_exit` skip atexit handlers and need process isolation): an
/// `atexit` handler that, while a run is in progress, says which agent ended the process and
/// exits with the `crashed` status instead of the plugin's (often 0).
enum RunGuard {
    private static let current = Locked<String?>(nil)
    private static let installed = Atomic<Bool>(false)

    /// A run of `agent` starts (the handler is installed once).
    static func begin(_ agent: String) {
        current.withLock { $0 = agent }
        if !installed.exchange(true, ordering: .acquiringAndReleasing) { atexit(runGuardAtExit) }
    }

    /// No run in progress any more.
    static func end() { current.withLock { $0 = nil } }

    static func onExit() {
        guard let agent = current.withLock({ $0 }) else { return }
        var msg = "agentrt: agent \(agent) ended the process during its run (exit() inside the plugin); exiting with status \(ErrorCode.crashed.exitStatus) (crashed)\n"
        msg.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        _exit(ErrorCode.crashed.exitStatus)
    }
}

private func runGuardAtExit() { RunGuard.onExit() }
