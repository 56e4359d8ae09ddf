#if canImport(Glibc)
import Glibc
#endif

/// Runs a call on the thread that asked for it (`SynchronousExecution.callerThread`): the
/// same worker-side steps as a pool worker (session instance, instance gate, the agent), with
/// the caller's thread state captured before and restored after (plugin code cannot leave the
/// host's thread with another rounding mode, signal mask, locale or cancellation state).
///
/// If plugin code ends the caller's thread inside the call (`pthread_exit`), a thread-local
/// value's destructor ends the call as `crashed`, as on a pool worker, so nothing stays held.
enum CallerThread {
    static func run(_ call: AgentCall) {
        let saved = ThreadHygiene.capture()
        pthread_setspecific(callerThreadKey, Unmanaged.passRetained(call).toOpaque())
        call.runtime.executeOnWorker(call)
        if let raw = pthread_getspecific(callerThreadKey) {
            pthread_setspecific(callerThreadKey, nil)
            Unmanaged<AgentCall>.fromOpaque(raw).release()
        }
        saved.restore()
    }
}

private let callerThreadKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key) { raw in callerThreadEnded(raw) }
    precondition(rc == 0, "pthread_key_create failed: \(rc)")
    return key
}()

/// The thread that ran a call on behalf of its caller ended inside it.
private func callerThreadEnded(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    let call = Unmanaged<AgentCall>.fromOpaque(raw).takeRetainedValue()
    call.workerThreadExited()
}
