/*
 * INCRBYFLOAT arithmetic in C `long double`.
 *
 * Redis parses both operands with strtold, adds them as long double (80-bit
 * extended precision on x86-64) and prints the sum with "%.17Lf" before
 * trimming trailing zeros. Rust has no extended-precision float, and doing the
 * sum in f64 gives different digits (10.5 + 0.1 must print "10.6"), so this
 * one operation is done here, in the type Redis uses.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Longest text accepted as a number, as Redis's MAX_LONG_DOUBLE_CHARS. */
#define LONG_DOUBLE_TEXT_MAX (5 * 1024)

/* Parses `len` bytes as a long double the way Redis's string2ld does.
 * Returns 1 on success. */
static int parse_long_double(const char *text, size_t len, long double *out) {
    char buf[LONG_DOUBLE_TEXT_MAX];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != len ||
        (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || value == 0)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* Adds the numbers in `a` and `b` and writes the sum, formatted as Redis
 * formats INCRBYFLOAT results, to `out` (at least LONG_DOUBLE_TEXT_MAX bytes).
 * Returns the length written, -1 if `a` is not a number, -2 if `b` is not,
 * -3 if the sum is NaN or infinite. */
long cinnabar_long_double_add(const char *a, size_t alen, const char *b, size_t blen, char *out, size_t outlen) {
    long double x, y, sum;
    int n;

    if (!parse_long_double(a, alen, &x)) return -1;
    if (!parse_long_double(b, blen, &y)) return -2;
    sum = x + y;
    if (isnan(sum) || isinf(sum)) return -3;

    n = snprintf(out, outlen, "%.17Lf", sum);
    if (n < 0 || (size_t)n + 1 > outlen) return -1;
    if (strchr(out, '.') != NULL) {
        while (out[n - 1] == '0') n--;
        if (out[n - 1] == '.') n--;
    }
    if (n == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        n = 1;
    }
    return n;
}
