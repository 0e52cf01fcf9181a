/* bench_jval - what an object with many keys costs (issue 11 item 9: bmx_jval_set scanned
 * every key for a duplicate, so 100,000 keys took 16 s).
 *
 * set:   ns per bmx_jval_set of a new key into an object of N keys (built from empty), and
 *        per bmx_jval_get of a present key, at N = 1,000, 10,000 and 100,000;
 * parse: ms to parse a document of one object of N keys.
 * Linear cost shows as the same ns per key at every N. Each figure is the median of 5
 * repetitions. Goal: 100,000 keys in under 0.1 s (set and parse alike).
 * The last line is one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/core.h"

#include "bench.h"

#define REPS 5

static volatile size_t sink;

static void die(const char *what)
{
    fprintf(stderr, "bench_jval: %s\n", what);
    exit(1);
}

int main(void)
{
    static const int sizes[] = {1000, 10000, 100000};
    char key[32];
    double set_ns[3], get_ns[3], parse_ms[3];

    for (int s = 0; s < 3; s++) {
        int n = sizes[s];
        double ts[REPS], tg[REPS], tp[REPS];
        size_t cap = (size_t)n * 24 + 16, len = 0;
        char *text = malloc(cap);
        if (!text)
            die("out of memory");
        len += (size_t)snprintf(text + len, cap - len, "{");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(text + len, cap - len, "%s\"key%d\": %d", i ? ", " : "", i, i);
        len += (size_t)snprintf(text + len, cap - len, "}");
        for (int r = 0; r < REPS; r++) {
            bmx_jval *o = bmx_jval_obj(), *p = NULL;
            bmx_err err;
            double t0 = bench_now();
            for (int i = 0; i < n; i++) {
                snprintf(key, sizeof key, "key%d", i);
                if (bmx_jval_set(o, key, bmx_jval_null()))
                    die("set failed");
            }
            double t1 = bench_now();
            for (int i = 0; i < n; i++) {
                snprintf(key, sizeof key, "key%d", (int)((unsigned)i * 7919u % (unsigned)n));
                sink += (size_t)bmx_jval_get(o, key);
            }
            double t2 = bench_now();
            if (bmx_jval_parse(text, len, &p, &err))
                die(err.msg);
            double t3 = bench_now();
            ts[r] = (t1 - t0) * 1e9 / n;
            tg[r] = (t2 - t1) * 1e9 / n;
            tp[r] = (t3 - t2) * 1e3;
            bmx_jval_free(o);
            bmx_jval_free(p);
        }
        set_ns[s] = bench_median(ts, REPS);
        get_ns[s] = bench_median(tg, REPS);
        parse_ms[s] = bench_median(tp, REPS);
        printf("keys %6d: set %7.1f ns/key, get %7.1f ns/key, parse %8.2f ms\n", n, set_ns[s],
               get_ns[s], parse_ms[s]);
        free(text);
    }
    printf("{\"bench\":\"jval\",\"set_ns_per_key\":[%.1f,%.1f,%.1f],\"get_ns_per_key\":[%.1f,%.1f,"
           "%.1f],\"parse_ms\":[%.2f,%.2f,%.2f],\"keys\":[1000,10000,100000]}\n",
           set_ns[0], set_ns[1], set_ns[2], get_ns[0], get_ns[1], get_ns[2], parse_ms[0],
           parse_ms[1], parse_ms[2]);
    return 0;
}
