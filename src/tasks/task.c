/* src/tasks/task.c - tasks in memory: raw files, splits, task files, prompts, few-shot splits. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/rng.h"
#include "bmx/tasks.h"

#define MAX_STR      (1u << 20)
#define MAX_EXAMPLES 10000000u

struct bmx_task {
    char *name, *question, *source, *how;
    int derived;
    char **labels;
    int nlabels;
    bmx_task_example *ex;
    size_t n, cap;
    /* every string is its own allocation, freed in bmx_task_free */
};

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* The strings an example owns; its choices may be the task's shared label list. */
static void example_free(const bmx_task *t, bmx_task_example *e)
{
    free((char *)e->text);
    free((char *)e->group);
    if (e->choices && e->choices != (const char *const *)t->labels) {
        for (int c = 0; c < e->nchoices; c++)
            free((char *)e->choices[c]);
        free((void *)e->choices);
    }
}

void bmx_task_free(bmx_task *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        bmx_task_example *e = &t->ex[i];
        example_free(t, e);
    }
    free(t->ex);
    for (int i = 0; i < t->nlabels; i++)
        free(t->labels[i]);
    free(t->labels);
    free(t->name);
    free(t->question);
    free(t->source);
    free(t->how);
    free(t);
}

const char *bmx_task_name(const bmx_task *t)
{
    return t->name;
}
const char *bmx_task_question(const bmx_task *t)
{
    return t->question;
}
const char *bmx_task_source(const bmx_task *t)
{
    return t->source;
}
const char *bmx_task_how(const bmx_task *t)
{
    return t->how;
}
int bmx_task_derived(const bmx_task *t)
{
    return t->derived;
}
size_t bmx_task_count(const bmx_task *t)
{
    return t->n;
}
const bmx_task_example *bmx_task_example_at(const bmx_task *t, size_t i)
{
    return &t->ex[i];
}

const char *const *bmx_task_labels(const bmx_task *t, int *n)
{
    *n = t->nlabels;
    return t->nlabels ? (const char *const *)t->labels : NULL;
}

size_t bmx_task_split_count(const bmx_task *t, int split)
{
    size_t c = 0;
    for (size_t i = 0; i < t->n; i++)
        c += split < 0 || t->ex[i].split == split;
    return c;
}

int bmx_task_split_indices(const bmx_task *t, int split, size_t **idx, size_t *n, bmx_err *err)
{
    size_t c = bmx_task_split_count(t, split);
    *idx = malloc((c ? c : 1) * sizeof **idx);
    if (!*idx)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for task %s's indices", t->name);
    c = 0;
    for (size_t i = 0; i < t->n; i++)
        if (split < 0 || t->ex[i].split == split)
            (*idx)[c++] = i;
    *n = c;
    return 0;
}

/* ---- raw files ---- */

/* Split line (NUL-terminated, no newline) at tabs in place and unescape each field. */
static int fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return -1;
        f[n++] = p;
        char *w = p;
        while (*p && *p != '\t') {
            if (*p == '\\' && p[1]) {
                p++;
                *w++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
                p++;
            } else {
                *w++ = *p++;
            }
        }
        int end = *p == 0;
        *w = 0;
        if (end)
            return n;
        p++;
    }
}

static int parse_int(const char *s, long max, long *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || e == s || *e || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int push_example(bmx_task *t, bmx_task_example e)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        bmx_task_example *p = realloc(t->ex, cap * sizeof *p);
        if (!p)
            return -1;
        t->ex = p;
        t->cap = cap;
    }
    t->ex[t->n++] = e;
    return 0;
}

/* A header record (name, question, source, how: once each, one value; derived: 0 or 1); 1 when
 * f[0] names none of them. */
static int raw_header(bmx_task *t, char **f, int nf, const char *path, long ln, bmx_err *err)
{
    char **slot = NULL;
    if (!strcmp(f[0], "name"))
        slot = &t->name;
    else if (!strcmp(f[0], "question"))
        slot = &t->question;
    else if (!strcmp(f[0], "source"))
        slot = &t->source;
    else if (!strcmp(f[0], "how"))
        slot = &t->how;
    if (slot) {
        if (nf != 2 || *slot)
            return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: '%s' must appear once with one value",
                               path, ln, f[0]);
        if (!(*slot = dupn(f[1], strlen(f[1]))))
            return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
        return 0;
    }
    if (strcmp(f[0], "derived"))
        return 1;
    long v;
    if (nf != 2 || parse_int(f[1], 1, &v))
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: derived must be 0 or 1", path, ln);
    t->derived = (int)v;
    return 0;
}

/* The one 'labels' record: at least 2 non-empty labels, before the examples. */
static int raw_labels(bmx_task *t, char **f, int nf, const char *path, long ln, bmx_err *err)
{
    if (t->nlabels || t->n || nf < 3 || nf - 1 > BMX_TASK_MAX_CHOICES)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s:%ld: one 'labels' line of 2 to %d labels, before the examples", path,
                           ln, BMX_TASK_MAX_CHOICES);
    t->labels = calloc((size_t)nf - 1, sizeof *t->labels);
    if (!t->labels)
        return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
    for (int i = 1; i < nf; i++) {
        if (!f[i][0])
            return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: empty label", path, ln);
        if (!(t->labels[t->nlabels++] = dupn(f[i], strlen(f[i]))))
            return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
    }
    return 0;
}

/* An example record: 'ex GROUP CORRECT TEXT' (the task's labels are its choices) or 'mc GROUP
 * CORRECT TEXT CHOICE CHOICE...' (its own, non-empty). */
static int raw_example(bmx_task *t, char **f, int nf, const char *path, long ln, bmx_err *err)
{
    int mc = !strcmp(f[0], "mc");
    if (!mc && strcmp(f[0], "ex"))
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: unknown record '%.40s'", path, ln, f[0]);
    if (!mc && !t->nlabels)
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: an 'ex' example needs a 'labels' line first",
                           path, ln);
    if (nf < 4 || (!mc && nf != 4) || (mc && nf < 6))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s:%ld: expected %s GROUP CORRECT TEXT%s separated by tabs", path, ln,
                           f[0], mc ? " CHOICE CHOICE..." : "");
    int nch = mc ? nf - 4 : t->nlabels;
    if (nch > BMX_TASK_MAX_CHOICES)
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: more than %d answer choices", path, ln,
                           BMX_TASK_MAX_CHOICES);
    long correct;
    if (parse_int(f[2], nch - 1, &correct))
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: correct choice '%.20s' is not in 0..%d",
                           path, ln, f[2], nch - 1);
    if (!f[3][0] || strlen(f[3]) > MAX_STR)
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: empty or oversized text", path, ln);
    bmx_task_example e = {0};
    e.nchoices = nch;
    e.correct = (int)correct;
    e.split = BMX_SPLIT_TRAIN;
    e.text = dupn(f[3], strlen(f[3]));
    e.group = dupn(f[1], strlen(f[1]));
    e.choices = (const char *const *)t->labels;
    if (mc) {
        char **c = calloc((size_t)nch, sizeof *c);
        e.choices = (const char *const *)c;
        for (int i = 0; c && i < nch; i++) {
            c[i] = dupn(f[4 + i], strlen(f[4 + i]));
            if (c[i] && !c[i][0]) {
                example_free(t, &e);
                return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: empty answer choice", path, ln);
            }
        }
    }
    if (!e.text || !e.group || !e.choices || push_example(t, e)) {
        example_free(t, &e);
        return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path);
    }
    return 0;
}

static int raw_line(bmx_task *t, char *line, const char *path, long ln, bmx_err *err)
{
    char *f[2 + BMX_TASK_MAX_CHOICES + 4];
    int nf = fields(line, f, (int)(sizeof f / sizeof *f));
    if (nf < 0)
        return bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: more than %d answer choices", path, ln,
                           BMX_TASK_MAX_CHOICES);
    int r = raw_header(t, f, nf, path, ln, err);
    if (r <= 0)
        return r;
    if (!strcmp(f[0], "labels"))
        return raw_labels(t, f, nf, path, ln, err);
    return raw_example(t, f, nf, path, ln, err);
}

int bmx_task_read_raw(bmx_task **out, const char *path, bmx_err *err)
{
    *out = NULL;
    FILE *f;
    int orc = bmx_file_fopen_regular(path, &f, err);
    if (orc < 0)
        return orc;
    bmx_task *t = calloc(1, sizeof *t);
    char *line = NULL;
    size_t cap = 0;
    long ln = 0;
    int rc = t ? 0 : bmx_err_set(err, BMX_ENOMEM, "out of memory");
    ssize_t len;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        ln++;
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        if ((size_t)len != strlen(line))
            rc = bmx_err_set(err, BMX_ECORRUPT, "%s:%ld: NUL byte in the line", path, ln);
        else if (ln == 1)
            rc = strcmp(line, "BMXRAW 1") ? bmx_err_set(err, BMX_ECORRUPT,
                                                        "%s: not a raw task file (first line "
                                                        "must be 'BMXRAW 1')",
                                                        path)
                                          : 0;
        else if (len)
            rc = raw_line(t, line, path, ln, err);
    }
    if (!rc && ferror(f))
        rc = bmx_err_set(err, BMX_EIO, "%s: read error", path);
    free(line);
    fclose(f);
    if (!rc && ln == 0)
        rc = bmx_err_set(err, BMX_ECORRUPT, "%s: empty file", path);
    if (!rc && (!t->name || !t->question))
        rc = bmx_err_set(err, BMX_ECORRUPT, "%s: missing 'name' or 'question' line", path);
    if (!rc && t->n == 0)
        rc = bmx_err_set(err, BMX_EINVAL, "%s: task %s has no examples", path, t->name);
    if (!rc && !t->source)
        rc = (t->source = dupn("unknown", 7)) ? 0 : bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (!rc && !t->how)
        rc = (t->how = dupn("", 0)) ? 0 : bmx_err_set(err, BMX_ENOMEM, "out of memory");
    if (rc) {
        bmx_task_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- splits ---- */

static void cap_split(bmx_task *t, int split, size_t max, bmx_rng *r, char *drop)
{
    size_t c = bmx_task_split_count(t, split);
    if (!max || c <= max)
        return;
    /* keep a uniform random max-subset: Floyd-free selection sampling (Knuth's S) */
    size_t seen = 0, kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->ex[i].split != split)
            continue;
        if (bmx_rng_below(r, c - seen) < max - kept)
            kept++;
        else
            drop[i] = 1;
        seen++;
    }
}

int bmx_task_split(bmx_task *t, double test_frac, size_t max_train, size_t max_test, uint64_t seed,
                   bmx_err *err)
{
    if (!(test_frac > 0 && test_frac < 1))
        return bmx_err_set(err, BMX_EINVAL, "test fraction %g must be in (0, 1)", test_frac);
    size_t nl = strlen(t->name);
    for (size_t i = 0; i < t->n; i++) {
        uint32_t h = bmx_crc32(0, t->name, nl);
        h = bmx_crc32(h, "/", 1);
        h = bmx_crc32(h, t->ex[i].group, strlen(t->ex[i].group));
        t->ex[i].split = (double)(h % 1000u) < test_frac * 1000 ? BMX_SPLIT_TEST : BMX_SPLIT_TRAIN;
    }
    if (!bmx_task_split_count(t, BMX_SPLIT_TRAIN) || !bmx_task_split_count(t, BMX_SPLIT_TEST))
        return bmx_err_set(err, BMX_EINVAL,
                           "task %s: %zu examples in %s give an empty %s split (too few "
                           "groups; change the test fraction)",
                           t->name, t->n, "its groups",
                           bmx_task_split_count(t, BMX_SPLIT_TRAIN) ? "test" : "train");
    char *drop = calloc(t->n, 1);
    if (!drop)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    bmx_rng r;
    bmx_rng_seed(&r, seed, bmx_crc32(0, t->name, nl));
    cap_split(t, BMX_SPLIT_TRAIN, max_train, &r, drop);
    cap_split(t, BMX_SPLIT_TEST, max_test, &r, drop);
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!drop[i]) {
            t->ex[w++] = t->ex[i];
            continue;
        }
        bmx_task_example *e = &t->ex[i];
        example_free(t, e);
    }
    t->n = w;
    free(drop);
    return 0;
}

/* ---- task files ---- */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void wput(wbuf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void wu32(wbuf *b, uint32_t v)
{
    unsigned char c[4];
    bmx_le_put32(c, v);
    wput(b, c, 4);
}

static void wstr(wbuf *b, const char *s)
{
    size_t n = strlen(s);
    wu32(b, (uint32_t)n);
    wput(b, s, n);
}

#define HDR 48

int bmx_task_save(const bmx_task *t, const char *path, bmx_err *err)
{
    wbuf pl = {0};
    wstr(&pl, t->name);
    wstr(&pl, t->question);
    wstr(&pl, t->source);
    wstr(&pl, t->how);
    for (int i = 0; i < t->nlabels; i++)
        wstr(&pl, t->labels[i]);
    for (size_t i = 0; i < t->n; i++) {
        const bmx_task_example *e = &t->ex[i];
        int own = e->choices != (const char *const *)t->labels;
        wu32(&pl, (uint32_t)e->correct);
        wu32(&pl, (uint32_t)e->split);
        wu32(&pl, own ? (uint32_t)e->nchoices : 0);
        wstr(&pl, e->text);
        wstr(&pl, e->group);
        for (int c = 0; own && c < e->nchoices; c++)
            wstr(&pl, e->choices[c]);
    }
    if (pl.oom) {
        free(pl.p);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path);
    }
    wbuf h = {0};
    wput(&h, "BMXTASK1", 8);
    wu32(&h, 1);
    wu32(&h, (uint32_t)t->derived);
    wu32(&h, (uint32_t)t->n);
    wu32(&h, (uint32_t)t->nlabels);
    wu32(&h, (uint32_t)pl.len);
    wu32(&h, (uint32_t)((uint64_t)pl.len >> 32));
    wu32(&h, bmx_crc32(0, pl.p, pl.len));
    wu32(&h, 0);
    if (!h.oom)
        wu32(&h, bmx_crc32(0, h.p, 40));
    wu32(&h, 0);
    wput(&h, pl.p, pl.len);
    free(pl.p);
    if (h.oom) {
        free(h.p);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path);
    }
    int rc = bmx_file_write_atomic(path, h.p, h.len, err);
    free(h.p);
    return rc;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} rbuf;

static uint32_t rd32(rbuf *b)
{
    if (b->bad || b->len - b->pos < 4) {
        b->bad = 1;
        return 0;
    }
    uint32_t v = bmx_le_get32(b->p + b->pos);
    b->pos += 4;
    return v;
}

static char *rdstr(rbuf *b)
{
    uint32_t n = rd32(b);
    if (b->bad || n > MAX_STR || b->len - b->pos < n || memchr(b->p + b->pos, 0, n)) {
        b->bad = 1;
        return NULL;
    }
    char *s = dupn((const char *)b->p + b->pos, n);
    b->pos += n;
    if (!s)
        b->bad = 2;
    return s;
}

/* What a task file's header says, once checked. */
typedef struct task_hdr {
    uint32_t flags, nex, nlab, crc;
    uint64_t plen;
} task_hdr;

/* The header of the open file f: magic, checksum, version, counts in range, and a file
 * size that holds the payload it promises (before anything is allocated). */
static int read_header(FILE *f, const char *path, task_hdr *th, bmx_err *err)
{
    unsigned char h[HDR];
    if (fread(h, 1, HDR, f) != HDR)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: truncated (shorter than the %d-byte header)",
                           path, HDR);
    if (memcmp(h, "BMXTASK1", 8))
        return bmx_err_set(err, BMX_ECORRUPT, "%s: not a bmx task file (bad magic)", path);
    if (bmx_crc32(0, h, 40) != bmx_le_get32(h + 40))
        return bmx_err_set(err, BMX_ECORRUPT, "%s: header checksum mismatch (corrupt file)", path);
    if (bmx_le_get32(h + 8) != 1)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: task file version %u; this bmx reads version 1 (rebuild with "
                           "'bmx tasks build')",
                           path, bmx_le_get32(h + 8));
    th->flags = bmx_le_get32(h + 12);
    th->nex = bmx_le_get32(h + 16);
    th->nlab = bmx_le_get32(h + 20);
    th->plen = bmx_le_get32(h + 24) | (uint64_t)bmx_le_get32(h + 28) << 32;
    th->crc = bmx_le_get32(h + 32);
    if (th->flags > 1 || th->nex == 0 || th->nex > MAX_EXAMPLES || th->nlab == 1 ||
        th->nlab > BMX_TASK_MAX_CHOICES || th->plen > ((uint64_t)1 << 34))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: impossible header values (%u examples, %u labels)", path, th->nex,
                           th->nlab);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size != HDR + th->plen)
        return bmx_err_set(err, BMX_ECORRUPT, "%s: payload is %s than the header says (%llu bytes)",
                           path, (uint64_t)st.st_size < HDR + th->plen ? "shorter" : "longer",
                           (unsigned long long)th->plen);
    return 0;
}

/* The payload (th->plen bytes after the header, its checksum checked), malloc'ed into *out. */
static int read_payload(FILE *f, const char *path, const task_hdr *th, unsigned char **out,
                        bmx_err *err)
{
    uint64_t plen = th->plen;
    unsigned char *p = malloc(plen ? plen : 1);
    if (!p)
        return bmx_err_set(err, BMX_ENOMEM, "%s: out of memory for %llu bytes", path,
                           (unsigned long long)plen);
    size_t got = fread(p, 1, plen, f);
    int extra = fgetc(f) != EOF;
    if (got != plen || extra) {
        free(p);
        return bmx_err_set(err, BMX_ECORRUPT, "%s: payload is %s than the header says (%llu bytes)",
                           path, got != plen ? "shorter" : "longer", (unsigned long long)plen);
    }
    if (bmx_crc32(0, p, plen) != th->crc) {
        free(p);
        return bmx_err_set(err, BMX_ECORRUPT, "%s: payload checksum mismatch (corrupt file)", path);
    }
    *out = p;
    return 0;
}

/* The next example of the payload into t->ex[t->n++] (b->bad: 1 malformed, 2 no memory). */
static void read_example(rbuf *b, bmx_task *t, uint32_t nlab)
{
    bmx_task_example e = {0};
    uint32_t correct = rd32(b), split = rd32(b), nch = rd32(b);
    if (b->bad || split > 1 || nch > BMX_TASK_MAX_CHOICES || nch == 1 || (nch == 0 && nlab == 0) ||
        correct >= (nch ? nch : nlab)) {
        b->bad = 1;
        return;
    }
    e.correct = (int)correct;
    e.split = (int)split;
    e.nchoices = (int)(nch ? nch : nlab);
    e.text = rdstr(b);
    e.group = rdstr(b);
    if (nch) {
        char **c = calloc(nch, sizeof *c);
        e.choices = (const char *const *)c;
        if (!c)
            b->bad = 2;
        for (uint32_t k = 0; c && k < nch; k++)
            c[k] = rdstr(b);
        for (uint32_t k = 0; c && k < nch; k++)
            if (!c[k] || !c[k][0])
                b->bad = b->bad ? b->bad : 1;
    } else {
        e.choices = (const char *const *)t->labels;
    }
    t->ex[t->n++] = e;
    if (!b->bad && (!e.text[0]))
        b->bad = 1;
}

/* The task from its payload: strings, labels, examples, nothing left over. */
static void read_task(rbuf *b, bmx_task *t, const task_hdr *th)
{
    uint32_t nlab = th->nlab, nex = th->nex;
    t->derived = (int)th->flags;
    t->name = rdstr(b);
    t->question = rdstr(b);
    t->source = rdstr(b);
    t->how = rdstr(b);
    if (nlab && !b->bad && !(t->labels = calloc(nlab, sizeof *t->labels)))
        b->bad = 2;
    for (uint32_t i = 0; i < nlab && !b->bad; i++) {
        t->labels[i] = rdstr(b);
        t->nlabels = (int)i + 1;
    }
    if (!b->bad && !(t->ex = calloc(nex, sizeof *t->ex)))
        b->bad = 2;
    t->cap = nex;
    for (uint32_t i = 0; i < nex && !b->bad; i++)
        read_example(b, t, nlab);
    if (!b->bad && b->pos != b->len)
        b->bad = 1;
}

int bmx_task_load(bmx_task **out, const char *path, bmx_err *err)
{
    *out = NULL;
    FILE *f;
    task_hdr th = {0, 0, 0, 0, 0};
    unsigned char *p = NULL;
    int rc = bmx_file_fopen_regular(path, &f, err);
    if (rc < 0)
        return rc;
    if (!(rc = read_header(f, path, &th, err)))
        rc = read_payload(f, path, &th, &p, err);
    fclose(f);
    if (rc)
        return rc;
    bmx_task *t = calloc(1, sizeof *t);
    rbuf b = {p, th.plen, 0, t ? 0 : 2};
    if (t)
        read_task(&b, t, &th);
    free(p);
    if (b.bad) {
        bmx_task_free(t);
        return b.bad == 2 ? bmx_err_set(err, BMX_ENOMEM, "%s: out of memory", path)
                          : bmx_err_set(err, BMX_ECORRUPT,
                                        "%s: malformed payload (bad string, index or count)", path);
    }
    *out = t;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bmx_task_open(bmx_task **out, const char *dir, const char *name, bmx_err *err)
{
    *out = NULL;
    if (!name[0] || strchr(name, '/') || strlen(name) > 200)
        return bmx_err_set(err, BMX_EINVAL, "bad task name '%s'", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.task", dir, name);
    struct stat st;
    if (stat(path, &st) == 0) /* whatever it is: the loader opens it or says what it is */
        return bmx_task_load(out, path, err);
    /* list what there is */
    char list[400] = "";
    DIR *d = opendir(dir);
    if (!d)
        return bmx_err_set(err, BMX_EIO,
                           "%s: cannot open the task folder: %s (run 'bmx tasks "
                           "build --out %s' first)",
                           dir, strerror(errno), dir);
    char *names[512];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 512) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".task"))
            if ((names[nn] = dupn(de->d_name, l - 5)))
                nn++;
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        if (strlen(list) + strlen(names[i]) + 3 < sizeof list) {
            strcat(list, i ? ", " : "");
            strcat(list, names[i]);
        }
        free(names[i]);
    }
    return bmx_err_set(err, BMX_EINVAL, "unknown task '%s': no %s (tasks in %s: %s)", name, path,
                       dir, nn ? list : "none");
}

/* ---- prompts ---- */

int bmx_task_prompt(const bmx_task *t, size_t i, int tmpl, char **out, bmx_err *err)
{
    *out = NULL;
    if (i >= t->n || tmpl < 0 || tmpl >= BMX_TASK_TEMPLATES)
        return bmx_err_set(err, BMX_EINVAL, "task %s: example %zu / template %d out of range",
                           t->name, i, tmpl);
    const bmx_task_example *e = &t->ex[i];
    wbuf b = {0};
#define PUTS(s) wput(&b, (s), strlen(s))
    switch (tmpl) {
    case 0:
        PUTS(e->text);
        PUTS("\nQuestion: ");
        PUTS(t->question);
        PUTS("\nAnswer:");
        break;
    case 1:
        PUTS(t->question);
        PUTS("\n\n");
        PUTS(e->text);
        PUTS("\n\nThe answer is:");
        break;
    default:
        PUTS("Input: ");
        PUTS(e->text);
        PUTS("\nOptions: ");
        for (int c = 0; c < e->nchoices; c++) {
            PUTS(c ? " | " : "");
            PUTS(e->choices[c]);
        }
        PUTS("\n");
        PUTS(t->question);
        PUTS("\nOutput:");
        break;
    }
#undef PUTS
    wput(&b, "", 1);
    if (b.oom) {
        free(b.p);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a prompt");
    }
    *out = (char *)b.p;
    return 0;
}

/* ---- few-shot splits ---- */

int bmx_task_fewshot(const bmx_task *t, int s, size_t **train, size_t *ntrain, size_t **val,
                     size_t *nval, bmx_err *err)
{
    *train = *val = NULL;
    if (s < 0 || s >= BMX_TASK_FEWSHOT_SPLITS)
        return bmx_err_set(err, BMX_EINVAL, "few-shot split %d: give 0..%d", s,
                           BMX_TASK_FEWSHOT_SPLITS - 1);
    size_t *idx, n;
    int rc = bmx_task_split_indices(t, BMX_SPLIT_TRAIN, &idx, &n, err);
    if (rc)
        return rc;
    if (n < 20) {
        free(idx);
        return bmx_err_set(err, BMX_EINVAL,
                           "task %s has %zu training examples; a few-shot split needs at least 20",
                           t->name, n);
    }
    bmx_rng r;
    bmx_rng_seed(&r, 1000 + (uint64_t)s, bmx_crc32(0, t->name, strlen(t->name)));
    size_t k = 20 + (size_t)bmx_rng_below(&r, 51);
    if (k > n)
        k = n;
    for (size_t i = 0; i < k; i++) { /* partial Fisher-Yates: idx[0..k) drawn in order */
        size_t j = i + (size_t)bmx_rng_below(&r, n - i);
        size_t x = idx[i];
        idx[i] = idx[j];
        idx[j] = x;
    }
    size_t nt = k / 2, nv = k - nt;
    *train = malloc(nt * sizeof **train);
    *val = malloc(nv * sizeof **val);
    if (!*train || !*val) {
        free(idx);
        free(*train);
        free(*val);
        *train = *val = NULL;
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    memcpy(*train, idx, nt * sizeof *idx);
    memcpy(*val, idx + nt, nv * sizeof *idx);
    *ntrain = nt;
    *nval = nv;
    free(idx);
    return 0;
}
