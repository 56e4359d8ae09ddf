import AgentRTCore
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The hand-offs a user would write by hand, measured next to the guarded path.
enum Baselines {
    /// `DispatchQueue.async` + `DispatchSemaphore.wait(timeout:)`: the naive guarded hand-off.
    final class DispatchHandOff: @unchecked Sendable {
        let queue = DispatchQueue(label: "bench.dispatch")
        let semaphore = DispatchSemaphore(value: 0)
        let fn: @convention(c) (Int64) -> Int64
        init(_ fn: @convention(c) (Int64) -> Int64) { self.fn = fn }

        func call() -> Bool {
            let f = fn, s = semaphore
            queue.async { _ = f(1); s.signal() }
            return semaphore.wait(timeout: .now() + .seconds(5)) == .success
        }
    }

    /// A dedicated pthread woken through a mutex + condition variable, and back.
    final class CondvarHandOff: @unchecked Sendable {
        let lock = Lock()
        let requestCond = ConditionVariable()
        let doneCond = ConditionVariable()
        var pending = false
        var done = false
        var stop = false
        let fn: @convention(c) (Int64) -> Int64
        var thread: NativeThread?

        init(_ fn: @convention(c) (Int64) -> Int64) {
            self.fn = fn
            thread = NativeThread(name: "bench-condvar") { [self] in
                lock.lock()
                while true {
                    while !pending && !stop { requestCond.wait(lock) }
                    if stop { break }
                    pending = false
                    lock.unlock()
                    _ = self.fn(1)
                    lock.lock()
                    done = true
                    doneCond.signal()
                }
                lock.unlock()
            }
        }

        func call() {
            lock.lock()
            pending = true
            done = false
            requestCond.signal()
            while !done { doneCond.wait(lock) }
            lock.unlock()
        }

        func shutdown() {
            lock.withLock { stop = true }
            requestCond.signal()
            thread?.join()
        }
    }
}

/// Resident set size of this process in bytes (from /proc/self/statm).
func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var buf = [UInt8](repeating: 0, count: 128)
    let n = fread(&buf, 1, buf.count - 1, f)
    let fields = String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Bytes in use from malloc: mallinfo2()'s `uordblks` + `hblkhd`, found with dlsym (Swift's Glibc
/// module does not import <malloc.h>); on x86-64 a struct this large is returned through a hidden
/// first pointer argument. Falls back to the resident set size elsewhere.
func heapInUseBytes() -> Int {
#if arch(x86_64) && os(Linux)
    if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallinfo2") {
        typealias Mallinfo2 = @convention(c) (UnsafeMutablePointer<Int>) -> UnsafeMutableRawPointer?
        let mallinfo2 = unsafeBitCast(sym, to: Mallinfo2.self)
        var fields = [Int](repeating: 0, count: 10)
        _ = fields.withUnsafeMutableBufferPointer { mallinfo2($0.baseAddress!) }
        return fields[7] + fields[4]
    }
#endif
    return residentBytes()
}
