#if canImport(Glibc)
import Glibc
#endif

/// A thread's per-thread state that plugin code can change and that would otherwise leak into
/// whatever runs next on the thread: the floating-point environment (rounding mode, exception
/// masks and flags, flush-to-zero), the signal mask, the thread's locale (`uselocale`), the
/// cancellation state and type, and `errno`.
///
/// A worker thread runs many users' calls one after another, so a plugin that calls
/// `fesetround(FE_UPWARD)` and returns would make the next user's `1.0 / 3.0` come out as
/// 0.33333333333333337. `WorkerPool` captures a baseline once and restores it after every item;
/// the native layer can do the same around plugin code it calls on other threads:
///
///     let saved = ThreadHygiene.capture()
///     callPlugin()
///     saved.restore()
///
/// `restore()` costs one `fesetenv`, one `pthread_sigmask` system call and a few libc stores
/// (see the pool's report for figures); it never allocates.
public struct ThreadHygiene: @unchecked Sendable {
    // @unchecked: `locale_t` is a pointer; it is only ever `LC_GLOBAL_LOCALE` or a locale the
    // capturing thread had installed, and is never dereferenced here.
    private var environment = fenv_t()
    private var signalMask = sigset_t()
    private let locale: locale_t?
    private let cancelState: Int32
    private let cancelType: Int32
    private let savedErrno: Int32

    /// One aspect of the state, for diagnostics (`changes()`).
    public enum Aspect: String, Sendable, CaseIterable {
        case floatingPoint = "floating-point environment"
        case signalMask = "signal mask"
        case locale
        case cancellation
    }

    /// The global locale (`LC_GLOBAL_LOCALE`, a macro Swift cannot import: `(locale_t) -1`).
    public static var globalLocale: locale_t? { locale_t(bitPattern: -1) }

    private init(locale: locale_t?, errno: Int32) {
        self.locale = locale
        self.savedErrno = errno
        let (state, type) = Self.currentCancellation()
        cancelState = state
        cancelType = type
        fegetenv(&environment)
        pthread_sigmask(SIG_SETMASK, nil, &signalMask)
    }

    /// The calling thread's state as it is now (restore it after foreign code ran).
    public static func capture() -> ThreadHygiene {
        ThreadHygiene(locale: uselocale(nil), errno: Glibc.errno)
    }

    /// The state pool workers run plugin code in: the calling thread's floating-point
    /// environment, signal mask and cancellation settings (so an embedder that blocks signals
    /// before starting the runtime keeps them blocked on workers), the global locale and errno 0.
    /// The locale is not taken from the caller: a locale the caller installed may be freed later.
    public static func workerBaseline() -> ThreadHygiene {
        ThreadHygiene(locale: globalLocale, errno: 0)
    }

    /// Puts the calling thread back into the captured state.
    @inline(__always)
    public func restore() {
        withUnsafePointer(to: environment) { _ = fesetenv($0) }
        withUnsafePointer(to: signalMask) { _ = pthread_sigmask(SIG_SETMASK, $0, nil) }
        uselocale(locale)
        // Type before state: re-enabling cancellation while the type is still asynchronous
        // would let a pending cancel strike at an arbitrary instruction.
        pthread_setcanceltype(cancelType, nil)
        pthread_setcancelstate(cancelState, nil)
        Glibc.errno = savedErrno
    }

    /// Sets only the captured cancellation state (the pool keeps cancellation disabled while
    /// its own code runs and enables it around an item).
    @inline(__always)
    func restoreCancelState() { pthread_setcancelstate(cancelState, nil) }

    /// The aspects in which the calling thread differs from the captured state (diagnostics and
    /// tests; not for the hot path: it makes system calls). Raised floating-point exception
    /// flags and errno are not compared: ordinary code changes them all the time.
    public func changes() -> [Aspect] {
        var out: [Aspect] = []
        var env = fenv_t()
        fegetenv(&env)
        if !Self.sameControls(env, environment) { out.append(.floatingPoint) }
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        if !Self.sameSignals(mask, signalMask) { out.append(.signalMask) }
        if uselocale(nil) != locale { out.append(.locale) }
        let (state, type) = Self.currentCancellation()
        if state != cancelState || type != cancelType { out.append(.cancellation) }
        return out
    }

    /// The calling thread's cancellation state and type (POSIX only reads them by setting them).
    private static func currentCancellation() -> (state: Int32, type: Int32) {
        var state: Int32 = 0
        var type: Int32 = 0
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &state)
        pthread_setcanceltype(Int32(PTHREAD_CANCEL_DEFERRED), &type)
        pthread_setcanceltype(type, nil)
        pthread_setcancelstate(state, nil)
        return (state, type)
    }

    private static func sameControls(_ a: fenv_t, _ b: fenv_t) -> Bool {
        #if arch(x86_64)
        // x87 control word (rounding, precision, exception masks) and the SSE control bits
        // (rounding, masks, flush-to-zero, denormals-are-zero) without the SSE flag bits 0-5.
        return a.__control_word == b.__control_word && (a.__mxcsr & ~0x3F) == (b.__mxcsr & ~0x3F)
        #elseif arch(arm64)
        return a.__fpcr == b.__fpcr
        #else
        return true
        #endif
    }

    private static func sameSignals(_ a: sigset_t, _ b: sigset_t) -> Bool {
        var a = a
        var b = b
        for signal in 1..<Int32(65) where sigismember(&a, signal) != sigismember(&b, signal) { return false }
        return true
    }
}
