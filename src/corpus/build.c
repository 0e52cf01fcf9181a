/* bmx corpus build: run the extractors, normalise, filter, deduplicate, split, write
 * (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "corpus_int.h"
#include "bmx/core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define fmt corpus_fmt

/* ---- one domain ---- */

/* Keep the last few lines of the extractor's stderr for the failure reason. */
struct tail {
    char line[3][200];
    int n;
    char cur[1024];
    size_t len;
};

enum { DOM_PENDING, DOM_RUNNING, DOM_EXITED, DOM_NOSTART };

struct dom {
    const bmx_corpus_opts *o;
    const char *name;
    struct sink out;
    struct hset local;      /* the documents kept in this domain */
    struct doc_filter filt; /* seen: the earlier domains' documents; kept: local */
    /* the extractor */
    char script[PATH_MAX], spool[PATH_MAX];
    uint32_t script_crc;
    int state, status, errfd, out_open;
    pid_t pid;
    struct tail tl;
    double t0, last;
    bmx_jval *pkgs, *licences;
    int io_error; /* writing the output failed: fatal for the whole build */
    char reason[600];
};
#define reason(d, ...) fmt((d)->reason, sizeof(d)->reason, __VA_ARGS__)

#define j_text corpus_j_text

static int same_str(const bmx_jval *v, const char *s, size_t n)
{
    return v && v->t == BMX_JSTR && strlen(v->s) == n && memcmp(v->s, s, n) == 0;
}

static int dom_pkg(struct dom *d, const struct rec *r)
{
    static const char *keys[] = {"kind", "name", "version", "licence"};
    bmx_jval *p;
    int dup_lic = 0;

    for (size_t i = 0; i < d->pkgs->n; i++) {
        const bmx_jval *q = d->pkgs->items[i];
        if (same_str(bmx_jval_get(q, "kind"), r->f[0], r->flen[0]) &&
            same_str(bmx_jval_get(q, "name"), r->f[1], r->flen[1]) &&
            same_str(bmx_jval_get(q, "version"), r->f[2], r->flen[2]))
            return 0;
    }
    p = bmx_jval_obj();
    for (int k = 0; k < 4; k++)
        if (bmx_jval_set(p, keys[k], j_text(r->f[k], r->flen[k])) < 0) {
            bmx_jval_free(p);
            return -1;
        }
    if (bmx_jval_push(d->pkgs, p) < 0)
        return -1;
    p = bmx_jval_get(p, "licence");
    for (size_t i = 0; i < d->licences->n; i++)
        dup_lic |= strcmp(d->licences->items[i]->s, p->s) == 0;
    return dup_lic ? 0 : bmx_jval_push(d->licences, bmx_jval_str(p->s));
}

static void dom_close_files(struct dom *d, int keep)
{
    sink_close(&d->out, keep && !d->io_error);
    if (d->out.io_error && !d->io_error) {
        d->io_error = 1;
        reason(d, "%s", d->out.reason);
    }
}

/* Keep the last few lines of the extractor's stderr for the failure reason. */
static void tail_line(struct tail *t, const struct dom *d)
{
    t->cur[t->len] = '\0';
    if (t->len) {
        bmx_log(&d->o->log, BMX_LOG_INFO, "corpus: %s: %s", d->name, t->cur);
        if (t->n == 3) {
            memmove(t->line[0], t->line[1], sizeof t->line[0]);
            memmove(t->line[1], t->line[2], sizeof t->line[0]);
            t->n = 2;
        }
        fmt(t->line[t->n++], sizeof t->line[0], "%s", t->cur);
    }
    t->len = 0;
}

static void tail_feed(struct tail *t, const struct dom *d, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            tail_line(t, d);
        } else if (t->len + 1 < sizeof t->cur) {
            t->cur[t->len++] = p[i] == '\r' || p[i] == '\0' ? ' ' : p[i];
        }
    }
}

static void tail_text(const struct tail *t, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? " | " : "", t->line[i]);
}

/* Start the extractor of d: stdout into the spool file OUT/.<domain>.stream, stderr into a
 * pipe that the build loop reads. On failure d->state = DOM_NOSTART with d->reason. */
static void dom_start(struct dom *d)
{
    posix_spawn_file_actions_t fa;
    char maxb[32], *argv[5];
    int perr[2], sfd, rc;

    d->state = DOM_NOSTART;
    fmt(d->script, sizeof d->script, "%s/%s.sh", d->o->scripts_dir, d->name);
    fmt(d->spool, sizeof d->spool, "%s/.%s.stream", d->o->out_dir, d->name);
    if (bmx_crc32_file(d->script, &d->script_crc, NULL) < 0) {
        reason(d, "no extractor script %s.sh in the scripts folder (%s)", d->name, strerror(errno));
        bmx_log(&d->o->log, BMX_LOG_INFO, "corpus: %s: %s not found", d->name, d->script);
        return;
    }
    sfd = open(d->spool, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (sfd < 0) {
        reason(d, "cannot create %s: %s", d->spool, strerror(errno));
        d->io_error = 1;
        return;
    }
    if (pipe2(perr, O_CLOEXEC) != 0) {
        reason(d, "cannot create a pipe: %s", strerror(errno));
        close(sfd);
        return;
    }
    snprintf(maxb, sizeof maxb, "%llu", (unsigned long long)d->o->max_bytes);
    argv[0] = "bash";
    argv[1] = d->script;
    argv[2] = (char *)d->o->cache_dir;
    argv[3] = maxb;
    argv[4] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sfd, 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    /* same process group: an interrupt from the terminal stops the extractors too */
    rc = posix_spawnp(&d->pid, "bash", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sfd);
    close(perr[1]);
    if (rc != 0) {
        reason(d, "cannot run bash %s: %s", d->script, strerror(rc));
        close(perr[0]);
        unlink(d->spool);
        return;
    }
    d->errfd = perr[0];
    d->out_open = 1;
    d->state = DOM_RUNNING;
    d->t0 = d->last = bmx_now_s();
    bmx_log(&d->o->log, BMX_LOG_INFO, "corpus: %s: running %s", d->name, d->script);
}

/* Wait for the running extractors' stderr (up to timeout_ms), forward it, reap the ones that
 * have finished. */
static void dom_poll(struct dom *ds, size_t n, int timeout_ms)
{
    struct pollfd pf[64];
    size_t idx[64], np = 0;

    for (size_t i = 0; i < n && np < 64; i++)
        if (ds[i].state == DOM_RUNNING && ds[i].out_open) {
            pf[np] = (struct pollfd){ds[i].errfd, POLLIN, 0};
            idx[np++] = i;
        }
    if (np && poll(pf, (nfds_t)np, timeout_ms) > 0) {
        for (size_t k = 0; k < np; k++) {
            struct dom *d = &ds[idx[k]];
            char eb[4096];
            ssize_t got;
            if (!pf[k].revents)
                continue;
            got = read(d->errfd, eb, sizeof eb);
            if (got > 0) {
                tail_feed(&d->tl, d, eb, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(d->errfd);
                d->out_open = 0;
            }
        }
    } else if (!np) {
        /* stderr closed: the extractor is exiting; look again soon */
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        struct dom *d = &ds[i];
        int st;
        if (d->state != DOM_RUNNING)
            continue;
        if (bmx_now_s() - d->last > 10.0) {
            struct stat sb;
            d->last = bmx_now_s();
            if (stat(d->spool, &sb) == 0)
                bmx_log(&d->o->log, BMX_LOG_INFO, "corpus: %s: %.1f MB extracted, %.0f s", d->name,
                        (double)sb.st_size / 1e6, d->last - d->t0);
        }
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->status = st;
            d->state = DOM_EXITED;
            /* stderr may still hold lines (or be kept open by a leftover child) */
            if (d->out_open) {
                char eb[4096];
                ssize_t got;
                fcntl(d->errfd, F_SETFL, O_NONBLOCK);
                while ((got = read(d->errfd, eb, sizeof eb)) > 0)
                    tail_feed(&d->tl, d, eb, (size_t)got);
                close(d->errfd);
                d->out_open = 0;
            }
            tail_line(&d->tl, d);
        }
    }
}

/* Parse the spool of a finished extractor into the outputs; 0 ok, -1 failed (d->reason). */
static int dom_consume(struct dom *d)
{
    int fd, rc = 0;
    struct stat sb;
    char *map = NULL;
    size_t size = 0, pos = 0;

    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
        char t[620];
        int code = WIFEXITED(d->status) ? WEXITSTATUS(d->status) : WTERMSIG(d->status);
        tail_text(&d->tl, t, sizeof t);
        reason(d, "extractor %s.sh %s %d%s%s", d->name,
               WIFEXITED(d->status) ? "exited with status" : "was killed by signal", code,
               t[0] ? ": " : " (no message on stderr)", t);
        return -1;
    }
    fd = open(d->spool, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        reason(d, "cannot read %s: %s", d->spool, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size = (size_t)sb.st_size;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            reason(d, "cannot map %s: %s", d->spool, strerror(errno));
            return -1;
        }
        madvise(map, size, MADV_SEQUENTIAL);
    }
    close(fd);
    while (pos < size) {
        struct rec r;
        size_t used;
        char why[200];
        if (rec_parse(map + pos, size - pos, 1, &r, &used, why, sizeof why) < 0) {
            reason(d, "malformed extractor output of %s.sh at byte offset %zu: %s", d->name, pos,
                   why);
            rc = -1;
            break;
        }
        if (r.kind == REC_DOC
                ? sink_doc(&d->out, &d->filt, r.body, r.body_len, r.label, r.label_len) < 0
                : dom_pkg(d, &r) < 0) {
            if (d->out.io_error) {
                d->io_error = 1;
                reason(d, "%s", d->out.reason);
            } else {
                reason(d, "out of memory");
            }
            rc = -1;
            break;
        }
        pos += used;
    }
    if (map)
        munmap(map, size);
    return rc;
}

static bmx_jval *dom_json(const struct dom *d, uint32_t script_crc)
{
    bmx_jval *o = bmx_jval_obj();
    int rc = 0;

    rc |= bmx_jval_set(o, "script_crc32", corpus_j_hex32(script_crc));
    rc |= bmx_jval_set(o, "packages", d->pkgs);
    rc |= bmx_jval_set(o, "licences", d->licences);
    rc |= sink_json(&d->out, o);
    return corpus_j_done(o, rc);
}

/* Turn the finished extractor of d into its outputs; returns its manifest entry, or NULL
 * with d->reason set (d->io_error when the failure is the output's). */
static bmx_jval *dom_finish(struct dom *d, struct hset *global)
{
    const struct sink *o = &d->out;
    bmx_jval *j;
    double t0 = bmx_now_s();

    sink_init(&d->out, d->o->out_dir, d->name);
    if (d->state == DOM_NOSTART) {
        dom_close_files(d, 0); /* remove the outputs of an earlier build */
        return NULL;
    }
    if (sink_open(&d->out) != 0) {
        reason(d, "%s", d->out.reason);
        d->io_error = 1;
        return NULL;
    }
    d->filt = (struct doc_filter){{d->o->split[0], d->o->split[1], d->o->split[2]},
                                  d->o->max_bytes,
                                  0,
                                  global,
                                  &d->local,
                                  NULL,
                                  0};
    if (dom_consume(d) < 0) {
        dom_close_files(d, 0);
        return NULL;
    }
    if (o->docs[0] + o->docs[1] + o->docs[2] == 0) {
        reason(d,
               "extractor %s.sh gave no usable document (%llu read: %llu binary, %llu "
               "near-empty, %llu duplicate)",
               d->name, (unsigned long long)o->nread, (unsigned long long)o->n_bin,
               (unsigned long long)o->n_empty, (unsigned long long)o->n_dup);
        dom_close_files(d, 0);
        return NULL;
    }
    dom_close_files(d, 1);
    if (d->io_error)
        return NULL;
    if (hset_merge(global, &d->local) < 0) {
        reason(d, "out of memory");
        d->io_error = 1;
        return NULL;
    }
    j = dom_json(d, d->script_crc);
    d->pkgs = d->licences = NULL; /* now owned by j (or freed with it) */
    if (!j) {
        reason(d, "out of memory");
        d->io_error = 1;
        return NULL;
    }
    char times[64];
    snprintf(times, sizeof times, "; extract %.1f s, filter %.1f s", t0 - d->t0, bmx_now_s() - t0);
    sink_log(o, &d->o->log, "corpus", d->name, times);
    return j;
}

static bmx_jval *params_json(const bmx_corpus_opts *o)
{
    bmx_jval *p = bmx_jval_obj(), *doms = bmx_jval_arr();
    int rc = 0;

    rc |= bmx_jval_set(p, "preset", o->preset ? bmx_jval_str(o->preset) : bmx_jval_null());
    rc |= bmx_jval_set(p, "max_bytes_per_domain", bmx_jval_u64(o->max_bytes));
    rc |= corpus_params_rules(p, o->split);
    for (size_t i = 0; i < o->ndomains; i++)
        rc |= bmx_jval_push(doms, bmx_jval_str(o->domains[i]));
    rc |= bmx_jval_set(p, "domains", doms);
    return corpus_j_done(p, rc);
}

/* The options make a build: directories, domains (valid names, none twice), a byte cap,
 * split weights and 0..64 jobs. */
static int check_opts(const bmx_corpus_opts *o, bmx_err *err)
{
    if (!o || !o->out_dir || !o->cache_dir || !o->scripts_dir || !o->ndomains || !o->domains)
        return bmx_err_set(err, BMX_EINVAL,
                           "corpus build needs an output directory, a cache directory, a "
                           "scripts directory and at least one domain");
    if (!o->max_bytes || (uint64_t)o->split[0] + o->split[1] + o->split[2] == 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "corpus build needs a positive byte cap per domain and split "
                           "weights that sum to more than 0");
    if (o->jobs < 0 || o->jobs > 64)
        return bmx_err_set(err, BMX_EINVAL, "corpus build: jobs must be 0..64, got %d", o->jobs);
    for (size_t i = 0; i < o->ndomains; i++) {
        const char *n = o->domains[i];
        if (!n[0] || strlen(n) >= 100 ||
            strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(n))
            return bmx_err_set(err, BMX_EINVAL,
                               "bad domain name '%s': use lower-case letters, digits, '-' "
                               "and '_'",
                               n);
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->domains[k], n) == 0)
                return bmx_err_set(err, BMX_EINVAL, "domain '%s' is listed twice", n);
    }
    return 0;
}

/* Start the extractors of domains *next.. up to `jobs` ahead of domain i. */
static int start_ahead(struct dom *ds, const bmx_corpus_opts *o, size_t i, size_t *next, int jobs,
                       bmx_err *err)
{
    while (*next < o->ndomains && *next < i + (size_t)jobs) {
        struct dom *d = &ds[*next];
        bmx_log(&o->log, BMX_LOG_INFO, "corpus: [%zu/%zu] %s", *next + 1, o->ndomains, d->name);
        dom_start(d);
        if (d->io_error)
            return bmx_err_set(err, BMX_EIO, "corpus build: domain %s: %s", d->name, d->reason);
        (*next)++;
    }
    return 0;
}

/* Domain d's extractor has ended: finish it (filter, dedupe, split) and record it in the
 * manifest's domains, or in its failed ones; an I/O error stops the build. */
static int settle(struct dom *d, struct hset *global, bmx_jval *doms, bmx_jval *failed,
                  bmx_corpus_result *r, bmx_err *err)
{
    const bmx_corpus_opts *o = d->o;
    d->pkgs = bmx_jval_arr();
    d->licences = bmx_jval_arr();
    bmx_jval *j = (d->pkgs && d->licences) ? dom_finish(d, global) : NULL;
    if (!d->pkgs || !d->licences) {
        d->io_error = 1;
        reason(d, "out of memory");
    }
    if (d->spool[0])
        unlink(d->spool);
    bmx_jval_free(d->pkgs);
    bmx_jval_free(d->licences);
    free(d->local.v);
    free(d->filt.norm);
    d->pkgs = d->licences = NULL;
    d->local.v = NULL;
    d->filt.norm = NULL;
    if (j) {
        r->built++;
        if (bmx_jval_set(doms, d->name, j) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    } else if (d->io_error) {
        return bmx_err_set(err, BMX_EIO, "corpus build: domain %s: %s", d->name, d->reason);
    } else {
        r->failed++;
        bmx_log(&o->log, BMX_LOG_WARN, "corpus: %s FAILED and is left out: %s", d->name, d->reason);
        if (bmx_jval_set(failed, d->name, j_text(d->reason, strlen(d->reason))) < 0)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    return 0;
}

/* After a fatal error (rc): stop the extractors still running, remove their spools. */
static void stop_all(struct dom *ds, size_t n, int rc)
{
    for (size_t i = 0; i < n; i++) {
        struct dom *d = &ds[i];
        if (d->state == DOM_RUNNING) {
            int st;
            kill(d->pid, SIGKILL);
            while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
                ;
            if (d->out_open)
                close(d->errfd);
        }
        if (d->state != DOM_PENDING && d->spool[0] && rc)
            unlink(d->spool);
    }
}

int bmx_corpus_build(const bmx_corpus_opts *o, bmx_corpus_result *res, bmx_err *err)
{
    struct hset global = {0};
    struct dom *ds;
    bmx_jval *man = NULL, *doms = NULL, *failed = NULL;
    int rc = BMX_OK, jobs;
    size_t next = 0, i;
    bmx_corpus_result r = {0, 0};

    if ((rc = check_opts(o, err)))
        return rc;
    jobs = o->jobs ? o->jobs : 1;
    if ((rc = bmx_file_mkdir_p(o->out_dir, err)) || (rc = bmx_file_mkdir_p(o->cache_dir, err)))
        return rc;
    ds = calloc(o->ndomains, sizeof *ds);
    man = bmx_jval_obj();
    doms = bmx_jval_obj();
    failed = bmx_jval_obj();
    if (!ds || bmx_jval_set(man, "format", bmx_jval_str("bmx-corpus")) < 0 ||
        bmx_jval_set(man, "version", bmx_jval_u64(1)) < 0 ||
        bmx_jval_set(man, "params", params_json(o)) < 0 ||
        bmx_jval_set(man, "tokenizer", bmx_jval_null()) < 0 ||
        bmx_jval_set(man, "domains", doms) < 0 || bmx_jval_set(man, "failed", failed) < 0) {
        free(ds);
        bmx_jval_free(man);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    }
    for (i = 0; i < o->ndomains; i++) {
        ds[i].o = o;
        ds[i].name = o->domains[i];
        ds[i].state = DOM_PENDING;
        ds[i].errfd = -1;
    }
    /* extractors run up to `jobs` ahead; their output is consumed in the fixed order */
    for (i = 0; i < o->ndomains && !rc;) {
        if ((rc = start_ahead(ds, o, i, &next, jobs, err)))
            break;
        if (ds[i].state == DOM_RUNNING) {
            dom_poll(ds, o->ndomains, 200);
            continue;
        }
        rc = settle(&ds[i], &global, doms, failed, &r, err);
        i++;
    }
    stop_all(ds, o->ndomains, rc);
    free(global.v);
    free(ds);
    if (!rc)
        rc = corpus_write_manifest(o->out_dir, man, err);
    bmx_jval_free(man);
    if (res)
        *res = r;
    return rc;
}
