/* Plain C functions for TypedToolTests: one identity function per supported type, a few
 * multi-argument functions and a counter that proves whether a call happened. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int8_t id_i8(int8_t x) { return x; }
int16_t id_i16(int16_t x) { return x; }
int32_t id_i32(int32_t x) { return x; }
int64_t id_i64(int64_t x) { return x; }
uint8_t id_u8(uint8_t x) { return x; }
uint16_t id_u16(uint16_t x) { return x; }
uint32_t id_u32(uint32_t x) { return x; }
uint64_t id_u64(uint64_t x) { return x; }
int id_int(int x) { return x; }
long id_long(long x) { return x; }
size_t id_size(size_t x) { return x; }
float id_f(float x) { return x; }
double id_d(double x) { return x; }
bool id_b(bool x) { return x; }
const char *id_s(const char *s) { return s; }

size_t str_len(const char *s) { return strlen(s); }
int64_t add(int64_t a, int64_t b) { return a + b; }

double mix(int8_t a, uint16_t b, float c, double d, bool e, const char *s) {
    return (double)a + (double)b + (double)c + d + (e ? 1000.0 : 0.0) + (double)strlen(s);
}

/* Narrow results whose upper register bits a careless caller might read. */
int8_t neg_i8(void) { return -1; }
uint8_t max_u8(void) { return 255; }
bool yes(void) { return true; }
const char *null_s(void) { return NULL; }
const char *bad_utf8(void) { return "ok\xff"; }
double not_a_number(void) { volatile double zero = 0.0; return zero / zero; }
/* Non-finite results, which JSON cannot carry: each must be an error, never null. */
double inf_d(void) { volatile double zero = 0.0; return 1.0 / zero; }
double neg_inf_d(void) { volatile double zero = 0.0; return -1.0 / zero; }
float nan_f(void) { volatile float zero = 0.0f; return zero / zero; }
float inf_f(void) { volatile float zero = 0.0f; return 1.0f / zero; }
float neg_inf_f(void) { volatile float zero = 0.0f; return -1.0f / zero; }
/* Scales x by 1e300: overflows to infinity for large x, so the same tool can succeed or fail. */
double scale_d(double x) { return x * 1e300; }

static int counter;

/* Takes one argument of every type so each kind of bad argument can be aimed at it. */
void bump(int8_t i8, int16_t i16, int32_t i32, int64_t i64, uint8_t u8, uint16_t u16, uint32_t u32,
          uint64_t u64, int i, long l, size_t z, float f, double d, bool b, const char *s) {
    (void)i8; (void)i16; (void)i32; (void)i64; (void)u8; (void)u16; (void)u32; (void)u64;
    (void)i; (void)l; (void)z; (void)f; (void)d; (void)b; (void)s;
    counter++;
}

int get_counter(void) { return counter; }
