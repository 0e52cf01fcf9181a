/* bench_jval - what an object with many keys costs (issue 11 item 9: bmx_jval_set scanned
 * every key for a duplicate, so 100,000 keys took 16 s).
 *
 * set:   ns per bmx_jval_set of a new key into an object of N keys (built from empty), and
 *        per bmx_jval_get of a present key, at N = 1,000, 10,000 and 100,000;
 * parse: ms to parse a document of one object of N keys.
 * Linear cost shows as the same ns per key at every N. Each figure is the median of 5
 * repetitions. Goal: 100,000 keys in under 0.1 s (set and parse alike).
 *
 * Against the Debian JSON libraries (issue 12 item 4: prefer one unless a measurement says
 * otherwise), when built with them (the Makefile adds -DBMX_HAVE_CJSON -lcjson and
 * -DBMX_HAVE_JANSSON -ljansson when libcjson-dev / libjansson-dev are installed), in the same
 * run:
 * log:   CPU ms (bench_cpu_s: load from other processes moves it far less than wall time)
 *        to parse a 10 MB run log (log.jsonl lines as bmx_run writes them: 19 domains,
 *        per-step loss, lr, grad norm, per-domain losses, counts and probabilities; one
 *        evaluation every 50 steps), one line at a time, and read every number as a double
 *        (bmx_jval keeps numbers as text, the others convert while parsing); median of 5;
 * exact: of 1,000,000 doubles (random bit patterns, every finite one) written with "%.17g",
 *        how many read back to other bits (must be 0), and written by the library itself and
 *        read back again (its own round trip; must be 0 for a bit-exact log).
 * The last line is one JSON object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/core.h"
#include "bmx/rng.h"
#ifdef BMX_HAVE_CJSON
#include <cjson/cJSON.h>
#endif
#ifdef BMX_HAVE_JANSSON
#include <jansson.h>
#endif

#include "bench.h"

#define REPS 5

static volatile size_t sink;

static void die(const char *what)
{
    fprintf(stderr, "bench_jval: %s\n", what);
    exit(1);
}

/* ---- a generated run log ---- */

#define LOG_BYTES   ((size_t)10 << 20)
#define LOG_DOMAINS 19
#define NEXACT      1000000

/* the record in j as one line of log; j starts afresh */
static void next_line(bmx_json *j, bmx_sbuf *log)
{
    if (j->bad || j->out.oom)
        die("cannot build the run log");
    bmx_sbuf_put(log, j->out.p, j->out.len);
    bmx_sbuf_put(log, "\n", 1);
    bmx_sbuf_clear(&j->out);
}

static char *make_log(size_t *len, size_t *nlines)
{
    bmx_json j = {0};
    bmx_sbuf log = {0};
    bmx_rng r;
    double v[LOG_DOMAINS], p[LOG_DOMAINS];
    int c[LOG_DOMAINS];

    bmx_rng_seed(&r, 12, 4);
    for (long step = 1; log.len < LOG_BYTES; step++) {
        double sum = 0;
        for (int d = 0; d < LOG_DOMAINS; d++) {
            v[d] = 2.0 + 4.0 * bmx_rng_double(&r);
            c[d] = (int)bmx_rng_below(&r, 9);
            sum += p[d] = 0.01 + bmx_rng_double(&r);
        }
        for (int d = 0; d < LOG_DOMAINS; d++)
            p[d] /= sum;
        bmx_json_obj(&j);
        bmx_json_kv_str(&j, "type", "step");
        bmx_json_kv_int(&j, "step", step);
        bmx_json_kv_num(&j, "loss", 2.0 + 4.0 * bmx_rng_double(&r));
        bmx_json_kv_num(&j, "lr", 0.001 * bmx_rng_double(&r));
        bmx_json_kv_num(&j, "grad_norm", bmx_rng_double(&r));
        bmx_json_kv_int(&j, "tokens", 2048);
        bmx_json_key(&j, "domain_loss");
        bmx_json_nums(&j, v, LOG_DOMAINS);
        bmx_json_key(&j, "domain_count");
        bmx_json_ints(&j, c, LOG_DOMAINS);
        bmx_json_key(&j, "probs");
        bmx_json_nums(&j, p, LOG_DOMAINS);
        bmx_json_end_obj(&j);
        next_line(&j, &log);
        if (step % 50 == 0) {
            bmx_json_obj(&j);
            bmx_json_kv_str(&j, "type", "eval");
            bmx_json_kv_int(&j, "step", step);
            bmx_json_key(&j, "loss");
            bmx_json_nums(&j, v, LOG_DOMAINS);
            for (int d = 0; d < LOG_DOMAINS; d++)
                p[d] = exp(v[d]);
            bmx_json_key(&j, "ppl");
            bmx_json_nums(&j, p, LOG_DOMAINS);
            bmx_json_end_obj(&j);
            next_line(&j, &log);
        }
    }
    bmx_json_free(&j);
    if (log.oom)
        die("out of memory");
    *len = log.len;
    *nlines = 0;
    for (size_t i = 0; i < log.len; i++)
        *nlines += log.p[i] == '\n';
    return log.p; /* the caller frees it */
}

static double walk_jval(const bmx_jval *v)
{
    double x = 0, s = 0;
    if (v->t == BMX_JNUM && bmx_jval_as_double(v, &x) == 0)
        return x;
    if (v->t == BMX_JARR || v->t == BMX_JOBJ)
        for (size_t i = 0; i < v->n; i++)
            s += walk_jval(v->items[i]);
    return s;
}

/* ms to parse every line of text and sum its numbers; *sum the sum (the same for all) */
static double parse_log_jval(const char *text, size_t len, double *sum)
{
    double t0 = bench_cpu_s(), s = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        bmx_jval *v;
        bmx_err err;
        if (bmx_jval_parse(p, (size_t)(nl - p), &v, &err))
            die(err.msg);
        s += walk_jval(v);
        bmx_jval_free(v);
        p = nl + 1;
    }
    *sum = s;
    return (bench_cpu_s() - t0) * 1e3;
}

#ifdef BMX_HAVE_CJSON
static double walk_cjson(const cJSON *v)
{
    double s = 0;
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    for (const cJSON *c = v->child; c; c = c->next)
        s += walk_cjson(c);
    return s;
}

static double parse_log_cjson(const char *text, size_t len, double *sum)
{
    double t0 = bench_cpu_s(), s = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        cJSON *v = cJSON_ParseWithLength(p, (size_t)(nl - p));
        if (!v)
            die("cJSON: parse failed");
        s += walk_cjson(v);
        cJSON_Delete(v);
        p = nl + 1;
    }
    *sum = s;
    return (bench_cpu_s() - t0) * 1e3;
}
#endif

#ifdef BMX_HAVE_JANSSON
static double walk_jansson(json_t *v)
{
    double s = 0;
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_array(v))
        json_array_foreach(v, i, c) s += walk_jansson(c);
    else if (json_is_object(v))
        json_object_foreach(v, k, c) s += walk_jansson(c);
    return s;
}

static double parse_log_jansson(const char *text, size_t len, double *sum)
{
    double t0 = bench_cpu_s(), s = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t e;
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!v)
            die(e.text);
        s += walk_jansson(v);
        json_decref(v);
        p = nl + 1;
    }
    *sum = s;
    return (bench_cpu_s() - t0) * 1e3;
}
#endif

/* ---- exact numbers ---- */

static double random_double(bmx_rng *r)
{
    for (;;) {
        uint64_t u = bmx_rng_u64(r);
        double x;
        memcpy(&x, &u, 8);
        if (isfinite(x))
            return x;
    }
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, 8) == 0;
}

/* text of the n doubles as one JSON array written with "%.17g" */
static char *exact_text(const double *x, size_t n, size_t *len)
{
    size_t cap = n * 26 + 4, k = 0;
    char *t = malloc(cap);
    if (!t)
        die("out of memory");
    t[k++] = '[';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(t + k, cap - k, "%s%.17g", i ? "," : "", x[i]);
    t[k++] = ']';
    t[k] = 0;
    *len = k;
    return t;
}

/* bmx_jval: misses reading %.17g; *own misses of bmx_json_fmt_num (the writer) read back */
static size_t exact_jval(const double *x, size_t n, const char *text, size_t len, size_t *own)
{
    bmx_jval *v;
    bmx_err err;
    size_t miss = 0;
    char buf[32];
    if (bmx_jval_parse(text, len, &v, &err) || v->n != n)
        die("bmx_jval: cannot read the numbers");
    for (size_t i = 0; i < n; i++) {
        double y = 0;
        miss += bmx_jval_as_double(v->items[i], &y) != 0 || !same_bits(x[i], y);
    }
    bmx_jval_free(v);
    *own = 0;
    for (size_t i = 0; i < n; i++) {
        bmx_json_fmt_num(buf, x[i]);
        bmx_jval *w;
        double y = 0;
        if (bmx_jval_parse(buf, strlen(buf), &w, &err))
            die(err.msg);
        *own += bmx_jval_as_double(w, &y) != 0 || !same_bits(x[i], y);
        bmx_jval_free(w);
    }
    return miss;
}

#ifdef BMX_HAVE_CJSON
static size_t exact_cjson(const double *x, size_t n, const char *text, size_t len, size_t *own)
{
    cJSON *v = cJSON_ParseWithLength(text, len);
    size_t miss = 0, i = 0;
    if (!v)
        die("cJSON: cannot read the numbers");
    for (const cJSON *c = v->child; c; c = c->next, i++)
        miss += i >= n || !same_bits(x[i], c->valuedouble);
    miss += i != n ? n : 0;
    cJSON_Delete(v);
    *own = 0;
    for (i = 0; i < n; i++) {
        cJSON *num = cJSON_CreateNumber(x[i]);
        char *t = cJSON_PrintUnformatted(num);
        cJSON *back = t ? cJSON_Parse(t) : NULL;
        *own += !back || !same_bits(x[i], back->valuedouble);
        cJSON_Delete(back);
        free(t);
        cJSON_Delete(num);
    }
    return miss;
}
#endif

#ifdef BMX_HAVE_JANSSON
static size_t exact_jansson(const double *x, size_t n, const char *text, size_t len, size_t *own)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, 0, &e);
    size_t miss = 0;
    if (!v || json_array_size(v) != n)
        die("jansson: cannot read the numbers");
    for (size_t i = 0; i < n; i++)
        miss += !same_bits(x[i], json_number_value(json_array_get(v, i)));
    json_decref(v);
    *own = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *num = json_real(x[i]);
        char *t = json_dumps(num, JSON_ENCODE_ANY);
        json_t *back = t ? json_loads(t, JSON_DECODE_ANY, &e) : NULL;
        *own += !back || !same_bits(x[i], json_number_value(back));
        json_decref(back);
        free(t);
        json_decref(num);
    }
    return miss;
}
#endif

typedef struct peer {
    const char *name;
    double (*parse_log)(const char *, size_t, double *);
    size_t (*exact)(const double *, size_t, const char *, size_t, size_t *);
} peer;

static const peer peers[] = {
    {"bmx_jval", parse_log_jval, exact_jval},
#ifdef BMX_HAVE_CJSON
    {"cJSON", parse_log_cjson, exact_cjson},
#endif
#ifdef BMX_HAVE_JANSSON
    {"jansson " JANSSON_VERSION, parse_log_jansson, exact_jansson},
#endif
};
#define NPEERS (sizeof peers / sizeof peers[0])

/* The comparison; its figures as JSON members into out. */
static void compare(char *out, size_t cap)
{
    size_t o = 0;
    size_t len, nlines, tlen;
    char *log = make_log(&len, &nlines);
    double *x = malloc(NEXACT * sizeof *x), ref = 0;
    bmx_rng r;
    if (!x)
        die("out of memory");
    bmx_rng_seed(&r, 12, 5);
    for (size_t i = 0; i < NEXACT; i++)
        x[i] = random_double(&r);
    char *text = exact_text(x, NEXACT, &tlen);
    printf("run log: %.1f MB, %zu lines; exact: %d doubles\n", (double)len / 1e6, nlines, NEXACT);
    o += (size_t)snprintf(out + o, cap - o, "\"log_mb\":%.2f,\"log_lines\":%zu,\"peers\":[",
                          (double)len / 1e6, nlines);
    for (size_t k = 0; k < NPEERS; k++) {
        double t[REPS], sum = 0;
        for (int rep = 0; rep < REPS; rep++)
            t[rep] = peers[k].parse_log(log, len, &sum);
        if (k == 0)
            ref = sum;
        else if (fabs(sum - ref) > 1e-9 * fabs(ref))
            die("the libraries read different numbers from the log");
        double ms = bench_median(t, REPS);
        size_t own = 0, miss = peers[k].exact(x, NEXACT, text, tlen, &own);
        printf("%-14s log %8.1f ms (%6.1f MB/s); %%.17g read back: %zu of %d wrong; own "
               "write + read: %zu wrong\n",
               peers[k].name, ms, (double)len / 1e3 / ms, miss, NEXACT, own);
        o += (size_t)snprintf(
            out + o, cap - o,
            "%s{\"name\":\"%s\",\"log_ms\":%.1f,\"exact_miss\":%zu,\"own_miss\":%zu}", k ? "," : "",
            peers[k].name, ms, miss, own);
    }
    snprintf(out + o, cap - o, "]");
    free(text);
    free(x);
    free(log);
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
    char peers_json[1024];
    compare(peers_json, sizeof peers_json);
    printf("{\"bench\":\"jval\",\"set_ns_per_key\":[%.1f,%.1f,%.1f],\"get_ns_per_key\":[%.1f,%.1f,"
           "%.1f],\"parse_ms\":[%.2f,%.2f,%.2f],\"keys\":[1000,10000,100000],%s}\n",
           set_ns[0], set_ns[1], set_ns[2], get_ns[0], get_ns[1], get_ns[2], parse_ms[0],
           parse_ms[1], parse_ms[2], peers_json);
    return 0;
}
