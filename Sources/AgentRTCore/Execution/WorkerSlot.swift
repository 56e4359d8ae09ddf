#if canImport(Glibc)
import Glibc
#endif

/// Notices a worker thread that ends while it runs an item.
///
/// A plugin can end its thread under the pool: `pthread_exit`, or a cancellation acted on at a
/// cancellation point. Both unwind the Swift frames without running `defer` blocks or releasing
/// anything, so the worker loop never learns of it. A thread-local value is the one hook that
/// still runs: each worker installs its slot in `workerSlotKey` at start and removes it before a
/// normal exit, so the key's destructor runs only for a thread that died. It then tells the pool,
/// which replaces the worker and hands the item's `workerThreadExited()` to a live worker.
final class WorkerSlot {
    let pool: WorkerPool
    /// The item the worker is running; only its own thread touches it (the destructor runs on
    /// that thread too, after the item can no longer run).
    var current: (any WorkItem)?

    private init(pool: WorkerPool) { self.pool = pool }

    /// Creates the calling worker's slot and installs it in the thread-local key.
    static func install(pool: WorkerPool) -> WorkerSlot {
        let slot = WorkerSlot(pool: pool)
        pthread_setspecific(workerSlotKey, Unmanaged.passRetained(slot).toOpaque())
        return slot
    }

    /// Removes the slot before the worker returns normally (so the destructor does not run).
    func uninstall() {
        pthread_setspecific(workerSlotKey, nil)
        Unmanaged.passUnretained(self).release()
    }
}

/// The thread-local key holding a worker's `WorkerSlot` (one for the process; lazily created).
private let workerSlotKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key) { raw in workerThreadEnded(raw) }
    precondition(rc == 0, "pthread_key_create failed: \(rc)")
    return key
}()

/// The key's destructor: runs on a worker thread that ended with its slot installed, that is
/// inside an item. Kept minimal (the thread is half torn down): it only passes the item to the
/// pool, which takes its lock, starts a replacement and queues the notice.
private func workerThreadEnded(_ raw: UnsafeMutableRawPointer?) {
    guard let raw else { return }
    let slot = Unmanaged<WorkerSlot>.fromOpaque(raw).takeRetainedValue()
    // Between items cancellation is disabled and nothing calls pthread_exit, so a worker can only
    // die inside an item; `current` is nil only if that ever stops being true.
    guard let item = slot.current else { return }
    slot.current = nil
    slot.pool.workerDied(running: item)
}

/// Tells an item, on a live worker, that the worker running it died.
final class ThreadExitNotice: WorkItem {
    let item: any WorkItem
    init(_ item: any WorkItem) { self.item = item }
    func runOnWorker() { item.workerThreadExited() }
}
