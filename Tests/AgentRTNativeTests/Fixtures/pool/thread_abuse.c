/* Plugin code that misbehaves with its thread, for the WorkerPool tests (AgentRTCoreTests
 * compiles it with cc into a shared library and calls it from work items). */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>

#define EXPORT __attribute__((visibility("default")))

/* Ends the calling thread from C code. */
EXPORT void pool_fixture_exit_thread(void) { pthread_exit(0); }

/* Cancels the calling thread and acts on it at once. */
EXPORT void pool_fixture_cancel_self(void) {
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, 0);
    pthread_cancel(pthread_self());
    pthread_testcancel();
}

/* Leaves every kind of thread state changed: round-upward FP with divide-by-zero traps on,
 * `signo` blocked, a thread locale, cancellation disabled and asynchronous, errno set. */
EXPORT void pool_fixture_dirty_thread(int signo) {
    fesetround(FE_UPWARD);
    feenableexcept(FE_DIVBYZERO);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_BLOCK, &set, 0);
    static locale_t c_locale;
    if (!c_locale) c_locale = newlocale(LC_ALL_MASK, "C", 0);
    uselocale(c_locale);
    int old;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    errno = 42;
}

/* The FP exceptions that trap on the calling thread (0: none). */
EXPORT int pool_fixture_enabled_traps(void) { return fegetexcept(); }

/* 1/3 computed in C under the thread's current rounding mode. */
EXPORT double pool_fixture_one_third(void) {
    volatile double one = 1.0, three = 3.0;
    return one / three;
}
