/* src/train/checkpoint.c - the checkpoint file: tagged, CRC-checked sections behind a table
 * of contents, little-endian (format in bmx/checkpoint.h); bmx_checkpoint_save / _load of
 * bmx/train.h on top of it. */
#include "bmx/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/train.h"
#include "checkpoint_v1.h"
#include "trainer_impl.h"

#define CKPT_MAGIC "BMXCKPT1"
#define CKPT_HEAD  16u /* magic, version, section count */
#define CKPT_ENTRY 32u
#define CHUNK      4096 /* floats converted at a time on a big-endian host */

static int host_le(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* n floats between host order and little-endian, in place (nothing on a little-endian host) */
static void swap_f32(void *x, size_t n)
{
    unsigned char *p = x;
    if (host_le())
        return;
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned char a = p[0], b = p[1];
        p[0] = p[3];
        p[1] = p[2];
        p[2] = b;
        p[3] = a;
    }
}

static int tag_ok(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;
    for (size_t i = 0; i < n; i++)
        if (tag[i] <= ' ' || tag[i] > '~')
            return 0;
    return n >= 1 && n <= BMX_CKPT_TAG_LEN;
}

/* ---- writing ---- */

struct section {
    char tag[BMX_CKPT_TAG_LEN + 1];
    const void *data; /* not owned (f32) or own */
    unsigned char *own;
    size_t len; /* bytes */
    int f32;
};

struct bmx_ckpt_writer {
    struct section s[BMX_CKPT_MAX_SECTIONS];
    int n;
};

int bmx_ckpt_writer_create(bmx_ckpt_writer **out, bmx_err *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? BMX_OK : bmx_err_set(err, BMX_ENOMEM, "out of memory for a checkpoint");
}

void bmx_ckpt_writer_free(bmx_ckpt_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        free(w->s[i].own);
    free(w);
}

static int add(bmx_ckpt_writer *w, const char *tag, const void *data, size_t len, int f32,
               bmx_err *err)
{
    if (!tag_ok(tag))
        return bmx_err_set(err, BMX_EINVAL,
                           "checkpoint section tag '%s': give 1 to %d printable characters",
                           tag ? tag : "(null)", BMX_CKPT_TAG_LEN);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->s[i].tag, tag) == 0)
            return bmx_err_set(err, BMX_EINVAL,
                               "checkpoint section '%s' is added twice: give each a distinct tag",
                               tag);
    if (w->n == BMX_CKPT_MAX_SECTIONS)
        return bmx_err_set(err, BMX_EINVAL,
                           "a checkpoint holds at most %d sections ('%s' is one "
                           "more): merge some",
                           BMX_CKPT_MAX_SECTIONS, tag);
    struct section *s = &w->s[w->n];
    memset(s, 0, sizeof *s);
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    s->len = len;
    s->f32 = f32;
    if (f32) {
        s->data = data;
    } else if (len) {
        if (!(s->own = malloc(len)))
            return bmx_err_set(err, BMX_ENOMEM, "out of memory for checkpoint section '%s'", tag);
        memcpy(s->own, data, len);
        s->data = s->own;
    }
    w->n++;
    return BMX_OK;
}

int bmx_ckpt_add(bmx_ckpt_writer *w, const char *tag, const void *data, size_t len, bmx_err *err)
{
    return add(w, tag, data, len, 0, err);
}

int bmx_ckpt_add_f32(bmx_ckpt_writer *w, const char *tag, const float *x, size_t n, bmx_err *err)
{
    return add(w, tag, x, n * sizeof(float), 1, err);
}

int bmx_ckpt_add_trainer(bmx_ckpt_writer *w, const bmx_trainer *t, bmx_err *err)
{
    const bmx_gpt_config *mc = bmx_model_config(t->model);
    const bmx_train_config *c = &t->cfg;
    size_t n = bmx_model_num_params(t->model);
    unsigned char m[24], o[96] = {0};
    int32_t ints[6] = {mc->vocab, mc->ctx,   mc->layers,
                       mc->heads, mc->width, bmx_model_vocab_padded(t->model)};
    double f[7] = {c->lr, c->min_lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->clip};
    for (int i = 0; i < 6; i++)
        bmx_le_put32(m + 4 * i, (uint32_t)ints[i]);
    for (int i = 0; i < 7; i++)
        bmx_le_put_f64(o + 8 * i, f[i]);
    bmx_le_put64(o + 56, (uint64_t)(int64_t)c->warmup);
    bmx_le_put64(o + 64, (uint64_t)(int64_t)c->total);
    bmx_le_put32(o + 72, (uint32_t)c->accum);
    bmx_le_put64(o + 80, (uint64_t)(int64_t)t->step);
    int rc;
    if ((rc = bmx_ckpt_add(w, "model", m, sizeof m, err)) ||
        (rc = bmx_ckpt_add_f32(w, "params", bmx_model_params(t->model), n, err)) ||
        (rc = bmx_ckpt_add(w, "optim", o, sizeof o, err)) ||
        (rc = bmx_ckpt_add_f32(w, "adam.m", t->m1, n, err)))
        return rc;
    return bmx_ckpt_add_f32(w, "adam.v", t->m2, n, err);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t r = write(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A section's bytes as the file holds them, in chunks: CRC-32 them (fd < 0) or write them. */
static int emit(const struct section *s, int fd, uint32_t *crc)
{
    if (!s->f32 || host_le()) {
        if (fd < 0)
            *crc = bmx_crc32(0, s->data, s->len);
        return fd < 0 ? 0 : write_all(fd, s->data, s->len);
    }
    float buf[CHUNK];
    const float *x = s->data;
    size_t n = s->len / sizeof(float);
    *crc = 0;
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        memcpy(buf, x + i, k * sizeof(float));
        swap_f32(buf, k);
        if (fd < 0)
            *crc = bmx_crc32(*crc, buf, k * sizeof(float));
        else if (write_all(fd, buf, k * sizeof(float)))
            return -1;
    }
    return 0;
}

static int write_file(const bmx_ckpt_writer *w, int fd)
{
    size_t hl = CKPT_HEAD + CKPT_ENTRY * (size_t)w->n + 4;
    unsigned char *h = calloc(1, hl);
    uint64_t off = hl;
    if (!h)
        return -1;
    memcpy(h, CKPT_MAGIC, 8);
    bmx_le_put32(h + 8, BMX_CKPT_VERSION);
    bmx_le_put32(h + 12, (uint32_t)w->n);
    for (int i = 0; i < w->n; i++) {
        unsigned char *e = h + CKPT_HEAD + CKPT_ENTRY * (size_t)i;
        uint32_t crc = 0;
        emit(&w->s[i], -1, &crc);
        memcpy(e, w->s[i].tag, strlen(w->s[i].tag));
        bmx_le_put64(e + 8, off);
        bmx_le_put64(e + 16, w->s[i].len);
        bmx_le_put32(e + 24, crc);
        off += w->s[i].len;
    }
    bmx_le_put32(h + hl - 4, bmx_crc32(0, h, hl - 4));
    int bad = write_all(fd, h, hl);
    free(h);
    for (int i = 0; !bad && i < w->n; i++)
        bad = emit(&w->s[i], fd, NULL);
    return bad;
}

int bmx_ckpt_save(const bmx_ckpt_writer *w, const char *path, bmx_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory saving checkpoint %s", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return bmx_err_set(err, BMX_EIO,
                           "cannot create a temporary file next to checkpoint %s: %s (check that "
                           "the directory exists and is writable)",
                           path, strerror(e));
    }
    int bad = write_file(w, fd) || fsync(fd) != 0, e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        free(tmp);
        return bmx_err_set(err, BMX_EIO, "cannot write checkpoint %s: %s (disk full?)", path,
                           strerror(e));
    }
    int rc = bmx_file_commit(tmp, path, err);
    free(tmp);
    return rc;
}

/* ---- reading ---- */

struct entry {
    char tag[BMX_CKPT_TAG_LEN + 1];
    uint64_t off, len;
    uint32_t crc;
};

struct bmx_ckpt_reader {
    FILE *f;
    char *path;
    int n;
    struct entry e[BMX_CKPT_MAX_SECTIONS];
};

void bmx_ckpt_close(bmx_ckpt_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->path);
    free(r);
}

const char *bmx_ckpt_path(const bmx_ckpt_reader *r)
{
    return r->path;
}

/* The table of contents: tags, and sections that tile the file from its end on. */
static int check_table(bmx_ckpt_reader *r, const unsigned char *t, uint64_t start, bmx_err *err)
{
    struct stat st;
    uint64_t end = start;
    const char *p = r->path;
    for (int i = 0; i < r->n; i++, t += CKPT_ENTRY) {
        struct entry *e = &r->e[i];
        memcpy(e->tag, t, BMX_CKPT_TAG_LEN);
        e->off = bmx_le_get64(t + 8);
        e->len = bmx_le_get64(t + 16);
        e->crc = bmx_le_get32(t + 24);
        int dup = 0;
        for (int k = 0; k < i; k++)
            dup |= strcmp(r->e[k].tag, e->tag) == 0;
        size_t tl = strlen(e->tag);
        for (size_t k = tl; k < BMX_CKPT_TAG_LEN; k++)
            dup |= t[k] != 0;
        if (!tag_ok(e->tag) || dup || bmx_le_get32(t + 28) != 0)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "checkpoint %s: table entry %d has a bad or repeated tag", p, i);
        if (e->off != end || e->len > UINT64_MAX - end)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "checkpoint %s: section '%s' is not where its table says "
                               "(offset %llu, expected %llu)",
                               p, e->tag, (unsigned long long)e->off, (unsigned long long)end);
        end += e->len;
    }
    if (fstat(fileno(r->f), &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot stat checkpoint %s: %s", p, strerror(errno));
    if ((uint64_t)st.st_size != end)
        return bmx_err_set(
            err, BMX_ECORRUPT, "checkpoint %s is %s: %lld bytes, its table says %llu", p,
            (uint64_t)st.st_size < end ? "truncated"
                                       : "longer than its table says (trailing bytes)",
            (long long)st.st_size, (unsigned long long)end);
    return BMX_OK;
}

static int open_checked(bmx_ckpt_reader *r, bmx_err *err)
{
    unsigned char h[CKPT_HEAD] = {0}, *t = NULL;
    const char *p = r->path;
    size_t got = fread(h, 1, CKPT_HEAD, r->f);
    if (got < 8 || memcmp(h, CKPT_MAGIC, 8) != 0)
        return bmx_err_set(err, BMX_ECORRUPT, "%s is not a bmx checkpoint (bad magic)", p);
    uint32_t ver = bmx_le_get32(h + 8);
    if (got >= 12 && ver != BMX_CKPT_VERSION)
        return bmx_err_set(
            err, BMX_ECORRUPT, "checkpoint %s has format version %u; this build reads version %u%s",
            p, ver, BMX_CKPT_VERSION,
            ver < BMX_CKPT_VERSION ? " (written by an older bmx: resume it with that build, or "
                                     "start a new run)"
                                   : " (written by a newer bmx: use that build)");
    if (got < CKPT_HEAD)
        return bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated (header cut short)", p);
    uint32_t n = bmx_le_get32(h + 12);
    if (n < 1 || n > BMX_CKPT_MAX_SECTIONS)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s has a corrupt header (%u sections; 1 to %d are valid)", p,
                           n, BMX_CKPT_MAX_SECTIONS);
    size_t tl = CKPT_ENTRY * (size_t)n + 4;
    if (!(t = malloc(tl)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory reading checkpoint %s", p);
    int rc = BMX_OK;
    if (fread(t, 1, tl, r->f) != tl)
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated (header cut short)", p);
    else if (bmx_crc32(bmx_crc32(0, h, CKPT_HEAD), t, tl - 4) != bmx_le_get32(t + tl - 4))
        rc = bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s has a corrupt header (checksum)", p);
    r->n = (int)n;
    if (!rc)
        rc = check_table(r, t, CKPT_HEAD + tl, err);
    free(t);
    return rc;
}

int bmx_ckpt_open(const char *path, bmx_ckpt_reader **out, bmx_err *err)
{
    bmx_ckpt_reader *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory reading checkpoint %s", path);
    }
    int rc = bmx_file_fopen_regular(path, &r->f, err);
    if (rc >= 0)
        rc = open_checked(r, err);
    if (rc) {
        bmx_ckpt_close(r);
        return rc < 0 ? rc : BMX_EIO;
    }
    *out = r;
    return BMX_OK;
}

static const struct entry *find(const bmx_ckpt_reader *r, const char *tag)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].tag, tag) == 0)
            return &r->e[i];
    return NULL;
}

const char *bmx_ckpt_tag(const bmx_ckpt_reader *r, int i)
{
    return i >= 0 && i < r->n ? r->e[i].tag : NULL;
}

int bmx_ckpt_has(const bmx_ckpt_reader *r, const char *tag, size_t *len)
{
    const struct entry *e = find(r, tag);
    if (e && len)
        *len = (size_t)e->len;
    return e != NULL;
}

int bmx_ckpt_read(bmx_ckpt_reader *r, const char *tag, void *dst, size_t len, bmx_err *err)
{
    const struct entry *e = find(r, tag);
    if (!e)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s has no section '%s' (not a checkpoint of this kind)",
                           r->path, tag);
    if (e->len != len)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s: section '%s' holds %llu bytes, %zu were expected",
                           r->path, tag, (unsigned long long)e->len, len);
    if (fseeko(r->f, (off_t)e->off, SEEK_SET) != 0 || (len && fread(dst, 1, len, r->f) != len))
        return bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s is truncated (section '%s')", r->path,
                           tag);
    if (bmx_crc32(0, dst, len) != e->crc)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "checkpoint %s is corrupt: section '%s' fails its checksum (CRC-32)",
                           r->path, tag);
    return BMX_OK;
}

int bmx_ckpt_read_alloc(bmx_ckpt_reader *r, const char *tag, void **dst, size_t *len, bmx_err *err)
{
    size_t n = 0;
    void *p = NULL;
    *dst = NULL;
    *len = 0;
    if (bmx_ckpt_has(r, tag, &n) && n && !(p = malloc(n)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory reading checkpoint %s", r->path);
    int rc = bmx_ckpt_read(r, tag, p, n, err);
    if (rc) {
        free(p);
        return rc;
    }
    *dst = p;
    *len = n;
    return BMX_OK;
}

int bmx_ckpt_read_f32(bmx_ckpt_reader *r, const char *tag, float *dst, size_t n, bmx_err *err)
{
    int rc = bmx_ckpt_read(r, tag, dst, n * sizeof(float), err);
    if (!rc)
        swap_f32(dst, n);
    return rc;
}

/* "model" and "optim" decoded and checked, and the float sections' sizes against them. */
static int read_configs(bmx_ckpt_reader *r, bmx_gpt_config *mc, bmx_train_config *tc, long *step,
                        bmx_err *err)
{
    unsigned char m[24], o[96];
    int rc;
    if ((rc = bmx_ckpt_read(r, "model", m, sizeof m, err)) ||
        (rc = bmx_ckpt_read(r, "optim", o, sizeof o, err)))
        return rc;
    int32_t ints[6];
    for (int i = 0; i < 6; i++)
        ints[i] = (int32_t)bmx_le_get32(m + 4 * i);
    *mc = (bmx_gpt_config){ints[0], ints[1], ints[2], ints[3], ints[4]};
    *tc = (bmx_train_config){bmx_le_get_f64(o),
                             bmx_le_get_f64(o + 8),
                             (long)(int64_t)bmx_le_get64(o + 56),
                             (long)(int64_t)bmx_le_get64(o + 64),
                             bmx_le_get_f64(o + 16),
                             bmx_le_get_f64(o + 24),
                             bmx_le_get_f64(o + 32),
                             bmx_le_get_f64(o + 40),
                             bmx_le_get_f64(o + 48),
                             (int)(int32_t)bmx_le_get32(o + 72)};
    int64_t s = (int64_t)bmx_le_get64(o + 80);
    if (bmx_gpt_config_check(mc, NULL) || bmx_train_config_check(tc, NULL) || s < 0 ||
        ints[5] != bmx_gpt_vocab_padded(mc->vocab) || bmx_le_get32(o + 76) != 0)
        return bmx_err_set(err, BMX_ECORRUPT, "checkpoint %s holds an invalid configuration",
                           r->path);
    *step = (long)s;
    /* the float sections must be those of the configuration before anything is allocated */
    uint64_t want = (uint64_t)bmx_gpt_num_params(mc) * sizeof(float);
    static const char *const floats[] = {"params", "adam.m", "adam.v"};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        if (!bmx_ckpt_has(r, floats[i], &len) || (uint64_t)len != want)
            return bmx_err_set(err, BMX_ECORRUPT,
                               "checkpoint %s is truncated or altered: section '%s' holds %llu "
                               "bytes, the model's configuration needs %llu",
                               r->path, floats[i], (unsigned long long)len,
                               (unsigned long long)want);
    }
    return BMX_OK;
}

int bmx_ckpt_load_trainer(bmx_ckpt_reader *r, int blas, bmx_model **model, bmx_trainer **trainer,
                          bmx_err *err)
{
    bmx_gpt_config mc;
    bmx_train_config tc;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    long step = 0;
    int rc = read_configs(r, &mc, &tc, &step, err);
    if (!rc)
        rc = bmx_model_create(&mc, BMX_F32, blas, &m, err);
    if (!rc)
        rc = bmx_trainer_create(m, &tc, &t, err);
    size_t n = m ? bmx_model_num_params(m) : 0;
    if (!rc && !(rc = bmx_ckpt_read_f32(r, "params", bmx_model_params(m), n, err)) &&
        !(rc = bmx_ckpt_read_f32(r, "adam.m", t->m1, n, err)))
        rc = bmx_ckpt_read_f32(r, "adam.v", t->m2, n, err);
    if (rc) {
        bmx_trainer_free(t);
        bmx_model_free(m);
        return rc;
    }
    t->step = step;
    *model = m;
    *trainer = t;
    return BMX_OK;
}

/* ---- bmx/train.h: a trainer and the caller's extra bytes (section "extra") ---- */

int bmx_checkpoint_save(const char *path, const bmx_trainer *t, const void *extra, size_t extra_len,
                        bmx_err *err)
{
    bmx_ckpt_writer *w = NULL;
    int rc = bmx_ckpt_writer_create(&w, err);
    if (!rc)
        rc = bmx_ckpt_add_trainer(w, t, err);
    if (!rc && extra_len)
        rc = bmx_ckpt_add(w, "extra", extra, extra_len, err);
    if (!rc)
        rc = bmx_ckpt_save(w, path, err);
    bmx_ckpt_writer_free(w);
    return rc;
}

/* A version-1 file (magic, then u32 version 1) is read by checkpoint_v1.c when the caller
 * wants no extra bytes (a base model, a reference); 1 = it was (rc holds the result). */
static int load_v1(const char *path, int blas, bmx_model **model, bmx_trainer **trainer, int *rc,
                   bmx_err *err)
{
    unsigned char h[12];
    FILE *f = NULL;
    if ((*rc = bmx_file_fopen_regular(path, &f, err)) < 0)
        return 1;
    int v1 = fread(h, 1, 12, f) == 12 && !memcmp(h, CKPT_MAGIC, 8) && bmx_le_get32(h + 8) == 1;
    if (v1)
        *rc = bmx_checkpoint_load_v1(f, path, blas, model, trainer, err);
    fclose(f);
    return v1;
}

int bmx_checkpoint_load(const char *path, int blas, bmx_model **model, bmx_trainer **trainer,
                        void **extra, size_t *extra_len, bmx_err *err)
{
    int rc = BMX_OK;
    if (!extra && load_v1(path, blas, model, trainer, &rc, err)) {
        if (extra_len)
            *extra_len = 0;
        return rc;
    }
    bmx_ckpt_reader *r = NULL;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    void *ex = NULL;
    size_t exl = 0;
    rc = bmx_ckpt_open(path, &r, err);
    if (!rc)
        rc = bmx_ckpt_load_trainer(r, blas, &m, &t, err);
    if (!rc && extra && bmx_ckpt_has(r, "extra", NULL))
        rc = bmx_ckpt_read_alloc(r, "extra", &ex, &exl, err);
    bmx_ckpt_close(r);
    if (rc) {
        bmx_trainer_free(t);
        bmx_model_free(m);
        return rc;
    }
    *model = m;
    *trainer = t;
    if (extra)
        *extra = ex;
    if (extra_len)
        *extra_len = exl;
    return BMX_OK;
}
