import AgentRTCore

/// Runs blocking runtime work (`Runtime.callTool` parks its calling thread until the tool
/// ends) on a dedicated native thread and resumes the awaiting task with its value, so no
/// Swift cooperative-pool thread is ever blocked: on a 2-core machine two blocked pool threads
/// would stall every task of the process, the MCP transport included.
enum BlockingCall {
    /// The value of `body`, computed on a new native thread; nil-free: when the system refuses a
    /// thread, `refused` is returned instead.
    static func run<T: Sendable>(name: String, refused: @autoclosure @Sendable () -> T,
                                 _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (k: CheckedContinuation<T, Never>) in
            let thread = NativeThread.start(name: name) { k.resume(returning: body()) }
            if let thread { thread.detach() } else { k.resume(returning: refused()) }
        }
    }
}
