/* bmx corpus import: folders and JSON Lines files (plain, .gz, .zst) into the corpus layout
 * of a build (bmx/corpus.h): options, domain names, the document batches, bad-input
 * accounting and the manifest; reading the inputs is import_read.c. */
#include "bmx/corpus.h"
#include "import_int.h"
#include "bmx/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const bad_key[NBAD] = {"malformed", "no_text",   "no_domain",
                                          "too_long",  "truncated", "corrupt"};
static const char *const bad_text[NBAD] = {"malformed JSON", "no text string",   "no domain string",
                                           "too long",       "truncated stream", "damaged stream"};

size_t bmx_corpus_safe_name(const char *name, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    int dash = 0;

    if (cap < 2) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n && k + 1 < cap && k < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            if (dash && k) {
                out[k++] = '-';
                if (k + 1 >= cap || k >= 64)
                    break;
            }
            dash = 0;
            if (c == '-' && (k == 0 || out[k - 1] == '-'))
                continue;
            out[k++] = (char)c;
        } else {
            dash = 1;
        }
    }
    while (k && out[k - 1] == '-')
        k--;
    if (!k) {
        size_t m = strlen("domain") < cap - 1 ? strlen("domain") : cap - 1;
        memcpy(out, "domain", m);
        k = m;
    }
    out[k] = '\0';
    return k;
}

/* ---- bad input ---- */

/* Count bad input of kind at line (JSONL) or file (folders); with strict, fail. */
int imp_bad(struct imp *m, struct input *in, int kind, uint64_t line, const char *file,
            const char *why, size_t at)
{
    uint64_t k = in->bad[kind]++;

    m->r.bad++;
    if (k < BMX_IMPORT_FIRST_BAD) {
        if (file)
            in->first_file[kind][k] = strdup(file);
        else
            in->first_line[kind][k] = line;
        if (kind == BAD_MALFORMED && why)
            corpus_fmt(in->first_why[k], sizeof in->first_why[k], "%s at byte %zu", why, at);
    }
    if (!m->o->strict)
        return 0;
    if (file)
        return bmx_err_set(m->err, BMX_ECORRUPT,
                           "%s: file %s: %s%s%s; fix or remove it, or import without --strict "
                           "to count and skip bad input",
                           in->src->path, file, bad_text[kind], why ? ": " : "", why ? why : "");
    if (kind == BAD_MALFORMED)
        return bmx_err_set(m->err, BMX_ECORRUPT,
                           "%s line %llu: %s: %s at byte %zu; fix the line, or import without "
                           "--strict to count and skip bad lines",
                           in->src->path, (unsigned long long)line, bad_text[kind], why, at);
    if (kind == BAD_TRUNCATED || kind == BAD_CORRUPT)
        return bmx_err_set(m->err, BMX_ECORRUPT,
                           "%s line %llu: %s: %s; fetch or compress the file again, or import "
                           "without --strict to keep the lines before the damage",
                           in->src->path, (unsigned long long)line, bad_text[kind], why);
    return bmx_err_set(m->err, BMX_ECORRUPT,
                       "%s line %llu: %s%s%s; fix the line (or --text-key / --domain-key), or "
                       "import without --strict to count and skip bad lines",
                       in->src->path, (unsigned long long)line, bad_text[kind], why ? ": " : "",
                       why ? why : "");
}

/* One log line for the bad input of in. */
static void bad_report(const struct imp *m, const struct input *in)
{
    char msg[1600];
    size_t u = 0;
    uint64_t total = 0;

    for (int k = 0; k < NBAD; k++)
        total += in->bad[k];
    if (!total)
        return;
    u += (size_t)snprintf(msg + u, sizeof msg - u, "%llu bad:", (unsigned long long)total);
    for (int k = 0; k < NBAD && u < sizeof msg; k++) {
        uint64_t n = in->bad[k], shown = n < BMX_IMPORT_FIRST_BAD ? n : BMX_IMPORT_FIRST_BAD;
        if (!n)
            continue;
        u += (size_t)snprintf(msg + u, sizeof msg - u, " %llu %s (%s", (unsigned long long)n,
                              bad_text[k], in->src->kind == BMX_IMPORT_DIR ? "" : "line ");
        for (uint64_t i = 0; i < shown && u < sizeof msg; i++) {
            if (in->src->kind == BMX_IMPORT_DIR)
                u += (size_t)snprintf(msg + u, sizeof msg - u, "%s%s", i ? ", " : "",
                                      in->first_file[k][i] ? in->first_file[k][i] : "?");
            else
                u += (size_t)snprintf(msg + u, sizeof msg - u, "%s%llu", i ? ", " : "",
                                      (unsigned long long)in->first_line[k][i]);
        }
        if (u < sizeof msg)
            u += (size_t)snprintf(msg + u, sizeof msg - u, "%s%s%s)", n > shown ? ", ..." : "",
                                  k == BAD_MALFORMED && in->first_why[0][0] ? "; first: " : "",
                                  k == BAD_MALFORMED ? in->first_why[0] : "");
        if (u < sizeof msg)
            u += (size_t)snprintf(msg + u, sizeof msg - u, ";");
    }
    if (u >= sizeof msg)
        u = sizeof msg - 1;
    if (u && msg[u - 1] == ';')
        msg[u - 1] = '\0';
    bmx_log(&m->o->log, BMX_LOG_WARN, "import: %s: %s", in->src->path, msg);
}

/* ---- domains ---- */

static int selector_matches(const char *sel, const struct dom *d)
{
    return (strlen(sel) == d->raw_len && memcmp(sel, d->raw, d->raw_len) == 0) ||
           strcmp(sel, d->base) == 0;
}

/* The domain named raw[0..n), added at its first sight; NULL with m->err set. */
struct dom *imp_domain(struct imp *m, struct input *in, const char *raw, size_t n, uint64_t line)
{
    struct dom *d;
    int taken;

    if (m->last < m->ndom && m->dom[m->last].raw_len == n &&
        memcmp(m->dom[m->last].raw, raw, n) == 0)
        return &m->dom[m->last];
    for (size_t i = 0; i < m->ndom; i++)
        if (m->dom[i].raw_len == n && memcmp(m->dom[i].raw, raw, n) == 0) {
            m->last = i;
            return &m->dom[i];
        }
    if (m->ndom == BMX_IMPORT_MAX_DOMAINS) {
        bmx_err_set(m->err, BMX_EINVAL,
                    "%s line %llu: more than %d distinct domain names; is the domain key "
                    "right? (give --domain-key PATH, or --domain NAME for the whole file)",
                    in->src->path, (unsigned long long)line, BMX_IMPORT_MAX_DOMAINS);
        return NULL;
    }
    d = &m->dom[m->ndom];
    memset(d, 0, sizeof *d);
    d->raw = malloc(n + 1);
    if (!d->raw) {
        bmx_err_set(m->err, BMX_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(d->raw, raw, n);
    d->raw[n] = '\0';
    d->raw_len = n;
    bmx_corpus_safe_name(raw, n, d->base, sizeof d->base);
    corpus_fmt(d->safe, sizeof d->safe, "%s", d->base);
    for (int suffix = 2;; suffix++) {
        taken = 0;
        for (size_t i = 0; i < m->ndom && !taken; i++)
            taken = strcmp(m->dom[i].safe, d->safe) == 0;
        if (!taken)
            break;
        corpus_fmt(d->safe, sizeof d->safe, "%s-%d", d->base, suffix);
    }
    d->selected = m->o->ndomains == 0;
    for (size_t i = 0; i < m->o->ndomains; i++)
        if (selector_matches(m->o->domains[i], d)) {
            d->selected = 1;
            m->sel_hit[i] = 1;
        }
    m->last = m->ndom++;
    if (d->raw_len != strlen(d->safe) || memcmp(d->raw, d->safe, d->raw_len) != 0)
        bmx_log(&m->o->log, BMX_LOG_INFO, "import: domain \"%s\" -> folder %s%s", d->raw, d->safe,
                d->selected ? "" : " (not selected)");
    return d;
}

/* Whether every domain asked for by name has been seen and is full. */
static int all_full(const struct imp *m)
{
    if (!m->o->ndomains || (!m->o->max_docs && !m->o->max_bytes))
        return 0;
    for (size_t i = 0; i < m->o->ndomains; i++)
        if (!m->sel_hit[i])
            return 0;
    for (size_t i = 0; i < m->ndom; i++)
        if (m->dom[i].selected && (!m->dom[i].out || !sink_full(m->dom[i].out, &m->filt)))
            return 0;
    return 1;
}

void imp_progress(struct imp *m, const struct input *in, int force)
{
    double t = bmx_now_s(), dt;

    if (!force && t < m->next_progress)
        return;
    m->next_progress = t + m->progress_s;
    dt = t - m->t0 > 1e-9 ? t - m->t0 : 1e-9;
    bmx_log(&m->o->log, BMX_LOG_INFO,
            "import: %.1f MB of text (%.1f MB as stored), %.1f MB/s; %llu documents "
            "(%.0f/s), %llu kept, %llu bad; %s %s",
            (double)m->r.bytes_text / 1e6, (double)m->r.bytes_in / 1e6,
            (double)m->r.bytes_text / 1e6 / dt, (unsigned long long)m->r.records,
            (double)m->r.records / dt, (unsigned long long)m->r.kept, (unsigned long long)m->r.bad,
            force ? "done with" : "reading", in->src->path);
}

/* One document of domain d. */
/* A document of domain d reaches the domain: 0 when it is not selected or full (counted),
 * 1 when it goes on, or an error. */
static int arrive(struct imp *m, struct input *in, struct dom *d, size_t len)
{
    in->records++;
    m->r.records++;
    if (!d->selected) {
        in->not_selected++;
        m->r.not_selected++;
        return 0;
    }
    if (!d->out) {
        d->out = malloc(sizeof *d->out);
        if (!d->out)
            return bmx_err_set(m->err, BMX_ENOMEM, "out of memory");
        sink_init(d->out, m->o->out_dir, d->safe);
        if (sink_open(d->out) != 0)
            return bmx_err_set(m->err, BMX_EIO, "corpus import: %s", d->out->reason);
    }
    return sink_take(d->out, &m->filt, len);
}

/* What sink_doc or sink_put gave (k) for a document of d. */
static int after(struct imp *m, struct input *in, struct dom *d, int k)
{
    if (k < 0)
        return bmx_err_set(m->err, d->out->io_error ? BMX_EIO : BMX_ENOMEM, "corpus import: %s",
                           d->out->reason);
    if (k == 1) {
        in->kept++;
        m->r.kept++;
    }
    if (sink_full(d->out, &m->filt) && all_full(m))
        m->stop = 1;
    return 0;
}

/* One document of domain d, at once. */
int imp_doc(struct imp *m, struct input *in, struct dom *d, const char *text, size_t len,
            const char *label, size_t label_len)
{
    int k = arrive(m, in, d, len);

    if (k <= 0)
        return k;
    return after(m, in, d, sink_doc(d->out, &m->filt, text, len, label, label_len));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    void *t;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    t = realloc(*p, c * elem);
    if (!t)
        return -1;
    *p = t;
    *cap = c;
    return 0;
}

size_t imp_label(char *out, size_t cap, const char *name, uint64_t line);

/* Normalise the waiting documents, hash them four at a time, then send them through the
 * pipeline in their order. */
int imp_flush(struct imp *m)
{
    size_t need = 0, off = 0, n = m->npend, hcap;
    int rc = 0;

    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        need += 3 * m->pend[i].len + 1;
    if (grow((void **)&m->arena, &m->arena_cap, need, 1) < 0 ||
        (hcap = m->h_cap, grow((void **)&m->hp, &hcap, n, sizeof *m->hp) < 0) ||
        (hcap = m->h_cap, grow((void **)&m->hlen, &hcap, n, sizeof *m->hlen) < 0) ||
        (hcap = m->h_cap, grow((void **)&m->hash, &hcap, n, sizeof *m->hash) < 0)) {
        m->npend = 0;
        return bmx_err_set(m->err, BMX_ENOMEM, "out of memory");
    }
    m->h_cap = hcap;
    for (size_t i = 0; i < n; i++) {
        struct pending *q = &m->pend[i];
        q->off = off;
        q->m = bmx_corpus_normalize(q->text, q->len, m->arena + off, &q->st);
        m->hp[i] = m->arena + off;
        m->hlen[i] = q->m;
        off += q->m;
    }
    corpus_hash_many(m->hp, m->hlen, m->hash, n);
    for (size_t i = 0; i < n && !rc; i++) {
        struct pending *q = &m->pend[i];
        char label[320];
        size_t llen = imp_label(label, sizeof label, q->in->base, q->line);
        rc = after(m, q->in, q->d,
                   sink_put(q->d->out, &m->filt, m->arena + q->off, q->m, &q->st, m->hash[i], label,
                            llen));
    }
    m->npend = 0;
    return rc;
}

/* A JSONL document: waits for the next flush. */
int imp_queue(struct imp *m, struct input *in, struct dom *d, const char *text, size_t len,
              uint64_t line)
{
    int k = arrive(m, in, d, len);

    if (k <= 0)
        return k;
    if (grow((void **)&m->pend, &m->pend_cap, m->npend + 1, sizeof *m->pend) < 0)
        return bmx_err_set(m->err, BMX_ENOMEM, "out of memory");
    m->pend[m->npend++] = (struct pending){d, in, text, len, line, 0, 0, {0, 0, 0, 0}};
    return 0;
}

/* ---- the manifest ---- */

static bmx_jval *params_json(const bmx_import_opts *o, const char *text_key)
{
    bmx_jval *p = bmx_jval_obj(), *sel = o->ndomains ? bmx_jval_arr() : bmx_jval_null();
    int rc = 0;

    rc |= bmx_jval_set(p, "source", bmx_jval_str("import"));
    rc |= bmx_jval_set(p, "text_key", bmx_jval_str(text_key));
    rc |= bmx_jval_set(p, "domain_key",
                       o->domain_key ? bmx_jval_str(o->domain_key) : bmx_jval_null());
    rc |= bmx_jval_set(p, "max_bytes_per_domain", bmx_jval_u64(o->max_bytes));
    rc |= bmx_jval_set(p, "max_docs_per_domain", bmx_jval_u64(o->max_docs));
    rc |= bmx_jval_set(p, "max_document_bytes", bmx_jval_u64(BMX_IMPORT_DOC_MAX));
    rc |= corpus_params_rules(p, o->split);
    for (size_t i = 0; i < o->ndomains; i++)
        rc |= bmx_jval_push(sel, bmx_jval_str(o->domains[i]));
    rc |= bmx_jval_set(p, "domains", sel);
    rc |= bmx_jval_set(p, "strict", bmx_jval_bool(o->strict));
    return corpus_j_done(p, rc);
}

static bmx_jval *input_json(const struct input *in)
{
    static const char *const comp[] = {"none", "gzip", "zstd"};
    const bmx_import_src *s = in->src;
    int dir = s->kind == BMX_IMPORT_DIR, rc = 0;
    bmx_jval *o = bmx_jval_obj(), *b = bmx_jval_obj(), *first = bmx_jval_obj();

    rc |= bmx_jval_set(o, "path", corpus_j_text(s->path, strlen(s->path)));
    rc |= bmx_jval_set(o, "kind", bmx_jval_str(dir ? "folder" : "jsonl"));
    if (!dir) {
        rc |= bmx_jval_set(o, "compression", bmx_jval_str(comp[in->compression]));
        rc |= bmx_jval_set(
            o, "domain", s->domain ? corpus_j_text(s->domain, strlen(s->domain)) : bmx_jval_null());
    }
    rc |= bmx_jval_set(o, "bytes", bmx_jval_u64(in->raw_bytes));
    rc |= bmx_jval_set(o, "crc32", corpus_j_hex32(in->crc));
    rc |= bmx_jval_set(o, "text_bytes", bmx_jval_u64(in->text_bytes));
    rc |= bmx_jval_set(o, dir ? "files" : "lines", bmx_jval_u64(in->units));
    rc |= bmx_jval_set(o, "documents", bmx_jval_u64(in->records));
    rc |= bmx_jval_set(o, "kept", bmx_jval_u64(in->kept));
    rc |= bmx_jval_set(o, "not_selected", bmx_jval_u64(in->not_selected));
    for (int k = 0; k < NBAD; k++) {
        uint64_t shown = in->bad[k] < BMX_IMPORT_FIRST_BAD ? in->bad[k] : BMX_IMPORT_FIRST_BAD;
        bmx_jval *a = bmx_jval_arr();
        rc |= bmx_jval_set(b, bad_key[k], bmx_jval_u64(in->bad[k]));
        for (uint64_t i = 0; i < shown; i++)
            rc |= bmx_jval_push(
                a, dir ? corpus_j_text(in->first_file[k][i] ? in->first_file[k][i] : "?",
                                       strlen(in->first_file[k][i] ? in->first_file[k][i] : "?"))
                       : bmx_jval_u64(in->first_line[k][i]));
        if (shown)
            rc |= bmx_jval_set(first, bad_key[k], a);
        else
            bmx_jval_free(a);
    }
    rc |= bmx_jval_set(o, "bad", b);
    rc |= bmx_jval_set(o, dir ? "first_bad_files" : "first_bad_lines", first);
    if (!dir && in->bad[BAD_MALFORMED]) {
        bmx_jval *w = bmx_jval_arr();
        for (int i = 0; i < BMX_IMPORT_FIRST_BAD && in->first_why[i][0]; i++)
            rc |= bmx_jval_push(w, bmx_jval_str(in->first_why[i]));
        rc |= bmx_jval_set(o, "first_malformed_reasons", w);
    }
    return corpus_j_done(o, rc);
}

/* Close the outputs and write the manifest. */
static int finish(struct imp *m)
{
    const bmx_import_opts *o = m->o;
    bmx_jval *man = bmx_jval_obj(), *doms = bmx_jval_obj(), *failed = bmx_jval_obj(),
             *names = bmx_jval_obj(), *inputs = bmx_jval_arr();
    int rc = 0;

    rc |= bmx_jval_set(man, "format", bmx_jval_str("bmx-corpus"));
    rc |= bmx_jval_set(man, "version", bmx_jval_u64(1));
    rc |= bmx_jval_set(man, "params", params_json(o, m->text_key));
    rc |= bmx_jval_set(man, "tokenizer", bmx_jval_null());
    for (size_t i = 0; i < m->ndom && !rc; i++) {
        struct dom *d = &m->dom[i];
        struct sink *s = d->out;
        bmx_jval *raw = corpus_j_text(d->raw, d->raw_len);
        rc |= bmx_jval_set(names, raw ? raw->s : "?", bmx_jval_str(d->safe));
        bmx_jval_free(raw);
        if (!s)
            continue;
        if (s->docs[0] + s->docs[1] + s->docs[2] == 0) {
            char why[300];
            corpus_fmt(why, sizeof why,
                       "no usable document (%llu read: %llu binary, %llu near-empty, %llu "
                       "duplicate)",
                       (unsigned long long)s->nread, (unsigned long long)s->n_bin,
                       (unsigned long long)s->n_empty, (unsigned long long)s->n_dup);
            sink_close(s, 0);
            bmx_log(&o->log, BMX_LOG_WARN, "import: domain %s left out: %s", d->safe, why);
            rc |= bmx_jval_set(failed, d->safe, bmx_jval_str(why));
            m->r.failed++;
            continue;
        }
        sink_close(s, 1);
        if (s->io_error) {
            bmx_jval_free(man);
            bmx_jval_free(doms);
            bmx_jval_free(failed);
            bmx_jval_free(names);
            bmx_jval_free(inputs);
            return bmx_err_set(m->err, BMX_EIO, "corpus import: %s", s->reason);
        }
        {
            bmx_jval *j = bmx_jval_obj();
            rc |= bmx_jval_set(j, "name_in_data", corpus_j_text(d->raw, d->raw_len));
            rc |= sink_json(s, j);
            rc |= bmx_jval_set(doms, d->safe, j);
        }
        m->r.domains++;
        sink_log(s, &o->log, "import", d->safe, "");
    }
    rc |= bmx_jval_set(man, "domains", doms);
    rc |= bmx_jval_set(man, "failed", failed);
    rc |= bmx_jval_set(man, "domain_names", names);
    for (size_t i = 0; i < o->nsrc; i++)
        rc |= bmx_jval_push(inputs, input_json(&m->in[i]));
    rc |= bmx_jval_set(man, "inputs", inputs);
    if (rc) {
        bmx_jval_free(man);
        return bmx_err_set(m->err, BMX_ENOMEM, "out of memory");
    }
    rc = corpus_write_manifest(o->out_dir, man, m->err);
    bmx_jval_free(man);
    return rc;
}

static int check_opts(const bmx_import_opts *o, const char *text_key, bmx_err *err)
{
    if (!o->out_dir || !o->out_dir[0])
        return bmx_err_set(err, BMX_EINVAL, "corpus import needs an output folder (--out DIR)");
    if (!o->nsrc || !o->src)
        return bmx_err_set(err, BMX_EINVAL,
                           "corpus import needs at least one input (--dir PATH or --jsonl FILE)");
    if ((uint64_t)o->split[0] + o->split[1] + o->split[2] == 0)
        return bmx_err_set(err, BMX_EINVAL, "corpus import: the split weights sum to 0");
    if (!bmx_corpus_jsonl_check_key(text_key))
        return bmx_err_set(err, BMX_EINVAL,
                           "bad text key '%s': want a dotted path such as text or doc.body "
                           "(non-empty parts, at most 8)",
                           text_key);
    if (o->domain_key && !bmx_corpus_jsonl_check_key(o->domain_key))
        return bmx_err_set(err, BMX_EINVAL,
                           "bad domain key '%s': want a dotted path such as "
                           "meta.pile_set_name (non-empty parts, at most 8)",
                           o->domain_key);
    if (o->progress_s < 0)
        return bmx_err_set(err, BMX_EINVAL, "corpus import: progress_s must be >= 0");
    for (size_t i = 0; i < o->nsrc; i++) {
        const bmx_import_src *s = &o->src[i];
        if (!s->path || (s->kind != BMX_IMPORT_DIR && s->kind != BMX_IMPORT_JSONL))
            return bmx_err_set(err, BMX_EINVAL, "corpus import: input %zu has no path or kind", i);
        if (s->kind == BMX_IMPORT_JSONL && !o->domain_key && (!s->domain || !s->domain[0]))
            return bmx_err_set(err, BMX_EINVAL,
                               "%s: no domain for its lines: give --domain-key PATH (e.g. "
                               "meta.pile_set_name) or --domain NAME before the file",
                               s->path);
    }
    for (size_t i = 0; i < o->ndomains; i++)
        if (!o->domains[i] || !o->domains[i][0])
            return bmx_err_set(err, BMX_EINVAL, "corpus import: an empty name in --domains");
    return BMX_OK;
}

/* The output folder must not lie inside an input folder (the import would read what it
 * writes). */
static int out_not_inside(const bmx_import_opts *o, bmx_err *err)
{
    char *out = realpath(o->out_dir, NULL);
    int rc = BMX_OK;

    for (size_t i = 0; out && !rc && i < o->nsrc; i++) {
        char *in;
        size_t n;
        if (o->src[i].kind != BMX_IMPORT_DIR || !(in = realpath(o->src[i].path, NULL)))
            continue;
        n = strlen(in);
        if (strncmp(out, in, n) == 0 && (out[n] == '/' || out[n] == '\0' || n == 1))
            rc = bmx_err_set(err, BMX_EINVAL,
                             "the output folder %s is inside the input folder %s: write the "
                             "corpus somewhere else",
                             o->out_dir, o->src[i].path);
        free(in);
    }
    free(out);
    return rc;
}

int bmx_corpus_import(const bmx_import_opts *o, bmx_import_result *res, bmx_err *err)
{
    struct imp m;
    int rc;

    memset(&m, 0, sizeof m);
    if (res)
        memset(res, 0, sizeof *res);
    if (!o)
        return bmx_err_set(err, BMX_EINVAL, "corpus import: no options");
    m.text_key = o->text_key ? o->text_key : "text";
    rc = check_opts(o, m.text_key, err);
    if (rc)
        return rc;
    m.o = o;
    m.err = err;
    m.progress_s = o->progress_s > 0 ? o->progress_s : 2.0;
    m.t0 = bmx_now_s();
    m.next_progress = m.t0 + m.progress_s;
    m.dom = calloc(BMX_IMPORT_MAX_DOMAINS, sizeof *m.dom);
    m.in = calloc(o->nsrc, sizeof *m.in);
    m.sel_hit = calloc(o->ndomains + 1, sizeof *m.sel_hit);
    m.filt = (struct doc_filter){
        {o->split[0], o->split[1], o->split[2]}, o->max_bytes, o->max_docs, NULL, &m.kept, NULL, 0};
    if (!m.dom || !m.in || !m.sel_hit) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
    } else if ((rc = bmx_file_mkdir_p(o->out_dir, err)) == BMX_OK) {
        rc = out_not_inside(o, err);
    }
    for (size_t i = 0; !rc && i < o->nsrc; i++) {
        struct input *in = &m.in[i];
        const char *slash = strrchr(o->src[i].path, '/');
        in->src = &o->src[i];
        in->base = slash && slash[1] ? slash + 1 : o->src[i].path;
        if (m.stop) {
            bmx_log(&o->log, BMX_LOG_INFO, "import: %s: not read (every selected domain is full)",
                    in->src->path);
            continue;
        }
        rc = in->src->kind == BMX_IMPORT_DIR ? imp_read_dir(&m, in) : imp_read_jsonl(&m, in);
        if (!rc) {
            imp_progress(&m, in, 1);
            bad_report(&m, in);
        }
    }
    for (size_t i = 0; !rc && i < o->ndomains; i++)
        if (!m.sel_hit[i])
            bmx_log(&o->log, BMX_LOG_WARN, "import: no input has the domain '%s' (--domains)",
                    o->domains[i]);
    if (!rc)
        rc = finish(&m);
    for (size_t i = 0; m.dom && i < m.ndom; i++) {
        if (m.dom[i].out) {
            if (rc)
                sink_discard(m.dom[i].out);
            free(m.dom[i].out);
        }
        free(m.dom[i].raw);
    }
    for (size_t i = 0; m.in && i < o->nsrc; i++)
        for (int k = 0; k < NBAD; k++)
            for (int j = 0; j < BMX_IMPORT_FIRST_BAD; j++)
                free(m.in[i].first_file[k][j]);
    m.r.seconds = bmx_now_s() - m.t0;
    if (res)
        *res = m.r;
    free(m.dom);
    free(m.in);
    free(m.sel_hit);
    free(m.kept.v);
    free(m.filt.norm);
    free(m.buf);
    free(m.pend);
    free(m.arena);
    free(m.hp);
    free(m.hlen);
    free(m.hash);
    return rc;
}
