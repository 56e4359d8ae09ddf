/// A subscription delivering events to a callback in seq order, on a thread of a
/// `DeliveryPool` (never the emitter's), never concurrently with itself.
///
/// Releasing the last reference stops delivery like `cancel()` does, without waiting for a
/// callback that is running at that moment.
public final class CallbackSubscription: @unchecked Sendable {
    let task: DeliveryTask

    init(stream: UserStream, after: UInt64?, pool: DeliveryPool, deliver: @escaping @Sendable (Event) -> Void) {
        // Events appended between reading `nextSequence` and registering are still delivered:
        // the cursor points at them, and the check after registering schedules a run for them.
        let cursor = after.map { $0 + 1 } ?? stream.nextSequence
        task = DeliveryTask(stream: stream, cursor: cursor, pool: pool, deliver: deliver)
        stream.register(task)
        // Replay what is already retained without waiting for the next event.
        if cursor < stream.nextSequence { task.wake() }
    }

    deinit {
        task.stream.unregister(task)
        task.close(waitingForRun: false)
    }

    /// Stops delivery. When it returns, the callback is not running and will not run again,
    /// unless called from inside this subscription's callback: then it returns at once and no
    /// callback runs after the current one returns. (Cancelling a subscription whose callback
    /// is itself waiting for the caller deadlocks, as joining a thread would.)
    public func cancel() {
        task.stream.unregister(task)
        task.close(waitingForRun: true)
    }
}
