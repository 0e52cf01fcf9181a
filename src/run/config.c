/* src/run/config.c - the run configuration: defaults, keys, config files, checks. */
#include "bmx/run.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/mix.h"
#include "bmx/core.h"

bmx_run_config bmx_run_config_default(void)
{
    bmx_run_config c;
    memset(&c, 0, sizeof c);
    c.data = "";
    c.out = "";
    c.policy = "odm";
    c.method = "";
    c.weights = "";
    c.domains = "";
    c.reward = "loss";
    c.reference = "";
    c.steps = 200;
    c.batch = 8;
    c.seq = 64;
    c.accum = 4;
    c.layers = 2;
    c.heads = 4;
    c.width = 128;
    c.lr = 3e-3;
    c.min_lr = 3e-4;
    c.warmup = 20;
    c.schedule = 0;
    c.beta1 = 0.9;
    c.beta2 = 0.95;
    c.weight_decay = 0.1;
    c.clip = 1.0;
    c.seed = 1;
    c.eval_every = 25;
    c.eval_windows = 32;
    c.ckpt_every = 50;
    c.threads = 0;
    c.device = "";
    c.precision = "";
    return c;
}

#define K(name, type, field, help)                                                                 \
    {                                                                                              \
        name, type, offsetof(bmx_run_config, field), help                                          \
    }
static const bmx_run_key run_keys[] = {
    K("data", BMX_RK_STR, data, "folder of <domain>/train.bin + val.bin (a sharded corpus)"),
    K("out", BMX_RK_STR, out, "run folder (config.txt, log.jsonl, checkpoint.bin)"),
    K("policy", BMX_RK_STR, policy, "mixing policy spec (bmx/mix.h), e.g. odm:alpha=0.9,tscale=1"),
    K("method", BMX_RK_STR, method, "label of the run in logs and reports (default: policy)"),
    K("weights", BMX_RK_STR, weights, "comma-separated domain weights (policy weights, doremi)"),
    K("domains", BMX_RK_STR, domains, "comma-separated domains to use (default: all)"),
    K("reward", BMX_RK_STR, reward, "exp3/ucb1/exploit-only reward: loss or exp-loss"),
    K("reference", BMX_RK_STR, reference, "doremi: reference run folder"),
    K("steps", BMX_RK_LONG, steps, "optimizer steps"),
    K("batch", BMX_RK_INT, batch, "sequences per micro-batch"),
    K("seq", BMX_RK_INT, seq, "tokens per sequence (model context)"),
    K("accum", BMX_RK_INT, accum, "micro-batches per optimizer step (each from one domain)"),
    K("layers", BMX_RK_INT, layers, "transformer blocks"),
    K("heads", BMX_RK_INT, heads, "attention heads"),
    K("width", BMX_RK_INT, width, "model width C"),
    K("lr", BMX_RK_DOUBLE, lr, "peak learning rate"),
    K("min_lr", BMX_RK_DOUBLE, min_lr, "learning rate at the end of the cosine"),
    K("warmup", BMX_RK_LONG, warmup, "linear warm-up steps"),
    K("schedule", BMX_RK_LONG, schedule, "steps of the cosine schedule (0 = steps)"),
    K("beta1", BMX_RK_DOUBLE, beta1, "AdamW beta1"),
    K("beta2", BMX_RK_DOUBLE, beta2, "AdamW beta2"),
    K("weight_decay", BMX_RK_DOUBLE, weight_decay, "AdamW decoupled weight decay"),
    K("clip", BMX_RK_DOUBLE, clip, "gradient norm clip (0 = none)"),
    K("seed", BMX_RK_U64, seed, "seed of every generator of the run"),
    K("eval_every", BMX_RK_LONG, eval_every, "validate every N steps (0 = start and end only)"),
    K("eval_windows", BMX_RK_LONG, eval_windows, "validation windows per domain (at most)"),
    K("ckpt_every", BMX_RK_LONG, ckpt_every, "checkpoint every N steps (0 = end and stop only)"),
    K("threads", BMX_RK_INT, threads, "threads (0 = OpenMP default)"),
    K("device", BMX_RK_STR, device, BMX_DEVICE_HELP),
    K("precision", BMX_RK_STR, precision, BMX_PRECISION_HELP),
    {NULL, BMX_RK_STR, 0, NULL},
};
#undef K

const bmx_run_key *bmx_run_keys(void)
{
    return run_keys;
}

static const bmx_run_key *find_key(const bmx_run_key *keys, const char *name, size_t len)
{
    for (const bmx_run_key *k = keys; k->name; k++) {
        size_t i = 0;
        if (strlen(k->name) != len)
            continue;
        for (; i < len; i++)
            if (k->name[i] != (name[i] == '-' ? '_' : name[i]))
                break;
        if (i == len)
            return k;
    }
    return NULL;
}

int bmx_config_value_set(enum bmx_run_key_type type, void *p, const char *name, const char *v,
                         bmx_err *err)
{
    char *end;
    errno = 0;
    switch (type) {
    case BMX_RK_STR:
        *(const char **)p = v;
        return 0;
    case BMX_RK_INT:
    case BMX_RK_LONG: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end ||
            (type == BMX_RK_INT && (x < -2147483647L || x > 2147483647L)))
            return bmx_err_set(err, BMX_EINVAL, "%s wants an integer, got '%s'", name, v);
        if (type == BMX_RK_INT)
            *(int *)p = (int)x;
        else
            *(long *)p = x;
        return 0;
    }
    case BMX_RK_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-')
            return bmx_err_set(err, BMX_EINVAL, "%s wants a non-negative integer, got '%s'", name,
                               v);
        *(uint64_t *)p = (uint64_t)x;
        return 0;
    }
    case BMX_RK_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return bmx_err_set(err, BMX_EINVAL, "%s wants a finite number, got '%s'", name, v);
        *(double *)p = x;
        return 0;
    }
    }
    return bmx_err_set(err, BMX_EINVAL, "%s: unknown value type %d", name, (int)type);
}

static int set_key(void *base, const bmx_run_key *k, const char *v, const char *where, bmx_err *err)
{
    char name[4400];
    snprintf(name, sizeof name, "%s%s", where, k->name);
    return bmx_config_value_set(k->type, (char *)base + k->offset, name, v, err);
}

static void unknown_key(const bmx_run_key *keys, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (const bmx_run_key *k = keys; k->name && n + 1 < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", k->name);
}

int bmx_config_set(const bmx_run_key *keys, void *base, const char *key, const char *value,
                   bmx_err *err)
{
    const bmx_run_key *k = find_key(keys, key, strlen(key));
    if (!k) {
        char list[400];
        unknown_key(keys, list, sizeof list);
        return bmx_err_set(err, BMX_EINVAL, "unknown configuration key '%s'; the keys are: %s", key,
                           list);
    }
    return set_key(base, k, value, "", err);
}

int bmx_run_config_set(bmx_run_config *c, const char *key, const char *value, bmx_err *err)
{
    return bmx_config_set(run_keys, c, key, value, err);
}

void bmx_run_strings_free(bmx_run_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->p[i]);
    free(s->p);
    s->p = NULL;
    s->n = 0;
}

/* A new zeroed string of n + 1 bytes owned by s. */
static char *keep(bmx_run_strings *s, size_t n)
{
    char **np = realloc(s->p, (s->n + 1) * sizeof *np);
    if (!np)
        return NULL;
    s->p = np;
    char *d = calloc(n + 1, 1);
    if (!d)
        return NULL;
    s->p[s->n++] = d;
    return d;
}

/* One `key = value` line (line[0..n), no NUL inside) into c. A value in double quotes is
 * read with the escapes \\ \" \n \r \t \xHH and may be followed by a # comment; any other
 * value ends at the first '#' and loses its surrounding spaces. */
static int parse_line(const bmx_run_key *keys, void *c, const char *line, size_t n,
                      const char *where, bmx_run_strings *store, bmx_err *err)
{
    const char *s = line, *end = line + n;
    while (s < end && isspace((unsigned char)*s))
        s++;
    if (s == end || *s == '#')
        return 0;
    const char *eq = s;
    while (eq < end && *eq != '=' && *eq != '#')
        eq++;
    if (eq == end || *eq != '=') {
        const char *e = eq;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        return bmx_err_set(err, BMX_EINVAL, "%sexpected 'key = value', got '%.*s'", where,
                           (int)(e - s), s);
    }
    const char *ke = eq;
    while (ke > s && isspace((unsigned char)ke[-1]))
        ke--;
    const bmx_run_key *k = find_key(keys, s, (size_t)(ke - s));
    if (!k) {
        char list[400];
        unknown_key(keys, list, sizeof list);
        return bmx_err_set(err, BMX_EINVAL, "%sunknown key '%.*s'; the keys are: %s", where,
                           (int)(ke - s), s, list);
    }
    const char *v = eq + 1;
    while (v < end && isspace((unsigned char)*v))
        v++;
    char *val = keep(store, n); /* room for the value: at most the line */
    if (!val)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory reading %s", where);
    size_t m = 0;
    if (v < end && *v == '"') {
        for (v++;; v++) {
            if (v == end)
                return bmx_err_set(err, BMX_EINVAL, "%s%s: the quoted value has no closing '\"'",
                                   where, k->name);
            if (*v == '"')
                break;
            if (*v != '\\') {
                val[m++] = *v;
                continue;
            }
            char e = ++v < end ? *v : 0;
            static const char from[] = "\\\"nrt", to[] = "\\\"\n\r\t";
            const char *f = e ? strchr(from, e) : NULL;
            unsigned x = 0;
            if (f) {
                val[m++] = to[f - from];
            } else if (e == 'x' && end - v > 2 && isxdigit((unsigned char)v[1]) &&
                       isxdigit((unsigned char)v[2]) && sscanf(v + 1, "%2x", &x) == 1 && x) {
                val[m++] = (char)x;
                v += 2;
            } else {
                return bmx_err_set(err, BMX_EINVAL,
                                   "%s%s: bad escape in the quoted value: use \\\\, \\\", \\n, "
                                   "\\r, \\t or \\xHH (not \\x00)",
                                   where, k->name);
            }
        }
        for (v++; v < end && isspace((unsigned char)*v); v++)
            ;
        if (v < end && *v != '#')
            return bmx_err_set(err, BMX_EINVAL,
                               "%s%s: text after the closing '\"' of the quoted value (a "
                               "comment starts with '#')",
                               where, k->name);
    } else {
        const char *e = v;
        while (e < end && *e != '#')
            e++;
        while (e > v && isspace((unsigned char)e[-1]))
            e--;
        memcpy(val, v, (size_t)(e - v));
        m = (size_t)(e - v);
    }
    val[m] = 0;
    return set_key(c, k, val, where, err);
}

int bmx_config_parse(const bmx_run_key *keys, void *c, const char *text, size_t len,
                     const char *name, bmx_run_strings *store, bmx_err *err)
{
    size_t pos = 0;
    int lineno = 0, rc = 0;
    while (!rc && pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        char where[300];
        snprintf(where, sizeof where, "%s:%d: ", name, lineno);
        const char *z = memchr(line, 0, n);
        if (z)
            return bmx_err_set(err, BMX_EINVAL,
                               "%sa NUL byte at column %d: a config file is text of 'key = "
                               "value' lines; remove the byte (or give the right file)",
                               where, (int)(z - line) + 1);
        rc = parse_line(keys, c, line, n, where, store, err);
    }
    return rc;
}

int bmx_run_config_parse(bmx_run_config *c, const char *text, size_t len, const char *name,
                         bmx_run_strings *store, bmx_err *err)
{
    return bmx_config_parse(run_keys, c, text, len, name, store, err);
}

int bmx_config_load(const bmx_run_key *keys, void *c, const char *path, bmx_run_strings *store,
                    bmx_err *err)
{
    FILE *f;
    int rc = bmx_file_fopen_regular(path, &f, err);
    if (rc < 0)
        return rc;
    char *buf = malloc(BMX_RUN_CONFIG_MAX + 1);
    size_t n = buf ? fread(buf, 1, BMX_RUN_CONFIG_MAX + 1, f) : 0;
    if (!buf)
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory reading %s", path);
    else if (ferror(f))
        rc = bmx_err_set(err, BMX_EIO, "cannot read the config file %s: %s", path, strerror(errno));
    else if (n > BMX_RUN_CONFIG_MAX)
        rc = bmx_err_set(err, BMX_EINVAL,
                         "the config file %s is larger than %d bytes: not a bmx configuration "
                         "(a config.txt takes about 1 KB); give the right file",
                         path, BMX_RUN_CONFIG_MAX);
    else
        rc = bmx_config_parse(keys, c, buf, n, path, store, err);
    free(buf);
    fclose(f);
    return rc;
}

int bmx_config_load_args(const bmx_run_key *keys, void *base, int argc, char **argv,
                         int resume_config, bmx_run_strings *store, bmx_err *err)
{
    const char *out = NULL, *file = NULL;
    char path[4200];
    int resume = 0, given = 0, rc;

    for (int i = 1; i < argc; i++, file = NULL) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") || !strcmp(a, "--out"))
            *(a[2] == 'c' ? &file : &out) = v;
        else if (!strncmp(a, "--config=", 9) || !strncmp(a, "--out=", 6))
            *(a[2] == 'c' ? &file : &out) = strchr(a, '=') + 1;
        resume |= !strcmp(a, "--resume");
        given |= file != NULL;
        if (file && (rc = bmx_config_load(keys, base, file, store, err)) < 0)
            return rc;
    }
    if (given || !resume_config || !resume || !out)
        return BMX_OK;
    snprintf(path, sizeof path, "%s/config.txt", out);
    if (access(path, F_OK) == 0)
        return bmx_config_load(keys, base, path, store, err);
    return BMX_OK; /* a folder without one: the run says so */
}

int bmx_run_config_load(bmx_run_config *c, const char *path, bmx_run_strings *store, bmx_err *err)
{
    return bmx_config_load(run_keys, c, path, store, err);
}

/* A string value as the parser reads it back: bare when that is exact, else quoted. */
static void put_value(bmx_sbuf *b, const char *s)
{
    size_t n = strlen(s);
    int quote = n && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]) ||
                      s[0] == '"' || strchr(s, '#'));
    for (size_t i = 0; i < n && !quote; i++)
        quote = (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
    if (!quote) {
        bmx_sbuf_puts(b, s);
        return;
    }
    bmx_sbuf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\' || ch == '"')
            bmx_sbuf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            bmx_sbuf_puts(b, "\\n");
        else if (ch == '\r')
            bmx_sbuf_puts(b, "\\r");
        else if (ch == '\t')
            bmx_sbuf_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            bmx_sbuf_printf(b, "\\x%02x", ch);
        else
            bmx_sbuf_put(b, (const char *)&ch, 1);
    }
    bmx_sbuf_puts(b, "\"");
}

char *bmx_config_text(const bmx_run_key *keys, const void *c)
{
    bmx_sbuf b = {0};
    char num[40];
    for (const bmx_run_key *k = keys; k->name; k++) {
        const void *p = (const char *)c + k->offset;
        bmx_sbuf_printf(&b, "%-13s= ", k->name);
        switch (k->type) {
        case BMX_RK_STR:
            put_value(&b, *(const char *const *)p ? *(const char *const *)p : "");
            break;
        case BMX_RK_INT:
            bmx_sbuf_printf(&b, "%d", *(const int *)p);
            break;
        case BMX_RK_LONG:
            bmx_sbuf_printf(&b, "%ld", *(const long *)p);
            break;
        case BMX_RK_U64:
            bmx_sbuf_printf(&b, "%" PRIu64, *(const uint64_t *)p);
            break;
        case BMX_RK_DOUBLE:
            bmx_sbuf_puts(&b, bmx_json_fmt_num(num, *(const double *)p));
            break;
        }
        bmx_sbuf_puts(&b, "\n");
    }
    if (b.oom) {
        bmx_sbuf_free(&b);
        return NULL;
    }
    return b.p;
}

char *bmx_run_config_text(const bmx_run_config *c)
{
    return bmx_config_text(run_keys, c);
}

int bmx_config_diff(const bmx_run_key *keys, const void *a, const void *b, const char *const *skip,
                    char *buf, size_t cap)
{
    size_t m = 0;
    int n = 0;
    if (cap)
        buf[0] = 0;
    for (const bmx_run_key *k = keys; k->name; k++) {
        const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;
        int differ = 0, skipped = 0;
        for (const char *const *s = skip; s && *s && !skipped; s++)
            skipped = strcmp(*s, k->name) == 0;
        if (skipped)
            continue;
        switch (k->type) {
        case BMX_RK_STR: {
            const char *sa = *(const char *const *)pa, *sb = *(const char *const *)pb;
            differ = strcmp(sa ? sa : "", sb ? sb : "") != 0;
            break;
        }
        case BMX_RK_INT:
            differ = *(const int *)pa != *(const int *)pb;
            break;
        case BMX_RK_LONG:
            differ = *(const long *)pa != *(const long *)pb;
            break;
        case BMX_RK_U64:
            differ = *(const uint64_t *)pa != *(const uint64_t *)pb;
            break;
        case BMX_RK_DOUBLE:
            differ = *(const double *)pa != *(const double *)pb;
            break;
        }
        if (differ && m < cap)
            m += (size_t)snprintf(buf + m, cap - m, "%s%s", n ? ", " : "", k->name);
        n += differ;
    }
    return n;
}

int bmx_run_config_check(const bmx_run_config *c, bmx_err *err)
{
#define BAD(...) return bmx_err_set(err, BMX_EINVAL, __VA_ARGS__)
    if (!c->data || !*c->data)
        BAD("data is not set: give --data DIR, a folder of <domain>/train.bin and val.bin "
            "(made by 'bmx corpus build' then 'bmx data shard')");
    if (!c->out || !*c->out)
        BAD("out is not set: give --out DIR, the run folder to create");
    if (!c->policy || !*c->policy)
        BAD("policy is empty: give e.g. --policy odm (see include/bmx/mix.h for every policy)");
    if (c->steps < 1)
        BAD("steps = %ld: give at least 1 optimizer step", c->steps);
    int dev, prec, rc;
    if ((rc = bmx_device_parse(c->device, &dev, err)) ||
        (rc = bmx_precision_parse(c->precision, dev, &prec, err)))
        return rc;
    if (c->batch < 1 || c->batch > 65536)
        BAD("batch = %d: give 1..65536 sequences per micro-batch", c->batch);
    if (c->seq < 1 || c->seq > 65536)
        BAD("seq = %d: give 1..65536 tokens per sequence", c->seq);
    if (c->accum < 1 || c->accum > 65536)
        BAD("accum = %d: give 1..65536 micro-batches per step", c->accum);
    if (c->layers < 1 || c->heads < 1 || c->width < 1 || c->width % c->heads)
        BAD("layers = %d, heads = %d, width = %d: all must be >= 1 and heads must divide width",
            c->layers, c->heads, c->width);
    if (!(c->lr >= 0) || !(c->min_lr >= 0))
        BAD("lr = %g, min_lr = %g: learning rates must be >= 0", c->lr, c->min_lr);
    if (c->warmup < 0 || c->schedule < 0)
        BAD("warmup = %ld, schedule = %ld: must be >= 0", c->warmup, c->schedule);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        BAD("beta1 = %g, beta2 = %g: each must be in [0, 1)", c->beta1, c->beta2);
    if (!(c->weight_decay >= 0) || !(c->clip >= 0))
        BAD("weight_decay = %g, clip = %g: must be >= 0", c->weight_decay, c->clip);
    if (c->eval_every < 0 || c->ckpt_every < 0)
        BAD("eval_every = %ld, ckpt_every = %ld: must be >= 0 (0 = only at the end)", c->eval_every,
            c->ckpt_every);
    if (c->eval_windows < 1)
        BAD("eval_windows = %ld: give at least 1 validation window per domain", c->eval_windows);
    if (c->threads < 0)
        BAD("threads = %d: give 0 (default) or more", c->threads);
    if (!c->reward || (strcmp(c->reward, "loss") != 0 && strcmp(c->reward, "exp-loss") != 0))
        BAD("reward = '%s': the training loop rewards exp3/ucb1/exploit-only with 'loss' or "
            "'exp-loss' (gradient rewards need a target set)",
            c->reward ? c->reward : "");
    /* ALGORITHMS.md section 1: odm* and doremi take the loss itself, no reward transform */
    int obs = bmx_mix_spec_observes(c->policy);
    if ((obs == BMX_MIX_OBS_LOSS || obs == BMX_MIX_OBS_EXCESS) && strcmp(c->reward, "loss") != 0)
        BAD("reward = '%s' with policy %.*s: odm, odm-smoothed-mean, ado, aioli and doremi observe "
            "the "
            "loss itself, no reward transform (ALGORITHMS.md section 1); leave --reward "
            "out (it is for exp3, ucb1 and exploit-only)",
            c->reward, (int)strcspn(c->policy, ":"), c->policy);
#undef BAD
    return BMX_OK;
}
