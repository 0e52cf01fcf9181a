/* src/run/state.c - a training run's checkpoint.bin: written as bmx/checkpoint.h sections (the
 * trainer's, then the run's: see run_int.h), and the exact resume from it, checked against
 * config.txt and log.jsonl (bmx/run.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/checkpoint.h"
#include "run_int.h"

int bmx_run_state_save(bmx_run *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    unsigned char run[BMX_RUN_SECTION], *rng = NULL, *pol = NULL;
    size_t mlen = 0;
    bmx_ckpt_writer *w = NULL;
    int rc;
    if (fflush(r->log) || fflush(r->timing) || fsync(fileno(r->log)) || fsync(fileno(r->timing)))
        return bmx_err_set(err, BMX_EIO, "cannot write the logs of %s: %s", r->dir,
                           strerror(errno));
    if ((rc = bmx_mix_save(r->mix, NULL, 0, &mlen, err)))
        return rc;
    rng = malloc((size_t)r->K * 32);
    pol = malloc(mlen ? mlen : 1);
    if (!rng || !pol) {
        free(rng);
        free(pol);
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the run state");
    }
    bmx_le_put32(run, BMX_RUN_STATE_VERSION);
    bmx_le_put32(run + 4, (uint32_t)r->K);
    bmx_le_put64(run + 8, (uint64_t)r->step);
    bmx_le_put64(run + 16, r->tokens);
    bmx_le_put64(run + 24, (uint64_t)ftell(r->log));
    for (int i = 0; i < r->K; i++)
        for (int k = 0; k < 4; k++)
            bmx_le_put64(rng + 32 * i + 8 * k, r->drng[i].s[k]);
    path_in(r, path, sizeof path, "checkpoint.bin");
    if (!(rc = bmx_mix_save(r->mix, pol, mlen, &mlen, err)) &&
        !(rc = bmx_backend_sync_to_host(r->be, err)) && !(rc = bmx_ckpt_writer_create(&w, err)) &&
        !(rc = bmx_ckpt_add_trainer(w, r->tr, err)) &&
        !(rc = bmx_ckpt_add(w, "run", run, sizeof run, err)) &&
        !(rc = bmx_ckpt_add(w, "rng", rng, (size_t)r->K * 32, err)) &&
        !(rc = bmx_ckpt_add(w, "policy", pol, mlen, err)))
        rc = bmx_ckpt_save(w, path, err);
    bmx_ckpt_writer_free(w);
    free(rng);
    free(pol);
    return rc;
}

static int cut_file(const char *path, uint64_t len, bmx_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot resume: %s is missing: %s", path, strerror(errno));
    if ((uint64_t)st.st_size < len)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s holds %lld bytes but the checkpoint wrote %llu; "
                           "the run folder was changed by hand",
                           path, (long long)st.st_size, (unsigned long long)len);
    if (truncate(path, (off_t)len) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot cut %s back to the checkpoint: %s", path,
                           strerror(errno));
    return 0;
}

/* timing.jsonl is wall-clock, so its length is not in the checkpoint: keep its lines up to
 * step `step` ({"step":N,...} each). */
static int cut_timing(const char *path, long step, bmx_err *err)
{
    FILE *f;
    char line[512];
    long keep = 0;
    if (access(path, F_OK) != 0)
        return 0; /* written again from here */
    if (bmx_file_fopen_regular(path, &f, err) < 0)
        return BMX_EIO;
    while (fgets(line, sizeof line, f)) {
        long s = -1;
        if (sscanf(line, "{\"step\":%ld", &s) != 1 || s > step || !strchr(line, '\n'))
            break;
        keep = ftell(f);
    }
    fclose(f);
    if (truncate(path, (off_t)keep) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot cut %s back to the checkpoint: %s", path,
                           strerror(errno));
    return 0;
}

/* The configuration the run started with (the "config" of the log's header line) against
 * config.txt now: every key but steps, threads and data must be the same; the corpus (which
 * may have moved) must hold the same domains with the same token counts. */
static int check_header(bmx_run *r, const char *line, size_t n, const char *path, bmx_err *err)
{
    bmx_jval *h = NULL;
    int rc = bmx_jval_parse(line, n, &h, err);
    if (rc) {
        char why[BMX_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_ECORRUPT, "cannot resume: the header line of %s: %s", path,
                           why);
    }
    bmx_jval *t = bmx_jval_get(h, "type"), *cf = bmx_jval_get(h, "config");
    bmx_jval *dn = bmx_jval_get(h, "domains"), *tt = bmx_jval_get(h, "train_tokens");
    bmx_jval *rk = bmx_jval_get(h, "ranks");
    uint64_t ranks = 1;
    if (rk && (bmx_jval_as_u64(rk, &ranks) != 0 || ranks < 1 || ranks > INT_MAX)) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_ECORRUPT, "cannot resume: the header of %s has a bad ranks",
                           path);
    }
    if (ranks != (uint64_t)r->nranks) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: it was started on %llu rank%s and this is %d; an "
                           "exact resume needs the same number: run it again with %s%llu%s",
                           r->dir, (unsigned long long)ranks, ranks > 1 ? "s" : "", r->nranks,
                           ranks > 1 ? "mpirun -np " : "one process (", (unsigned long long)ranks,
                           ranks > 1 ? " bmx train --resume ..." : ", no mpirun)");
    }
    /* the reduction decides the float rounding of every step's gradient sum; logs of older
     * runs do not name it */
    bmx_jval *rd = bmx_jval_get(h, "reduce");
    const char *now = bmx_dist_reduce_name(bmx_dist_reduce_mode(r->dist));
    if (ranks > 1 && rd && (rd->t != BMX_JSTR || strcmp(rd->s, now) != 0)) {
        char was[32];
        snprintf(was, sizeof was, "%s", rd->t == BMX_JSTR ? rd->s : "?");
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: it was started with --reduce %s and this is --reduce "
                           "%s; an exact resume needs the same reduction: run it again with "
                           "--reduce %s",
                           r->dir, was, now, was);
    }
    if (!t || t->t != BMX_JSTR || strcmp(t->s, "header") != 0) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s does not start with the run's header record", path);
    }
    int same = dn && tt && dn->t == BMX_JARR && tt->t == BMX_JARR && dn->n == (size_t)r->K &&
               tt->n == (size_t)r->K;
    for (int i = 0; same && i < r->K; i++) {
        uint64_t x;
        same = dn->items[i]->t == BMX_JSTR && strcmp(dn->items[i]->s, r->names[i]) == 0 &&
               bmx_jval_as_u64(tt->items[i], &x) == 0 && x == r->train_tokens[i];
    }
    if (!same) {
        bmx_jval_free(h);
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume: the domains or token counts of %s differ from those "
                           "in the header of %s: give the corpus the run started on",
                           r->cfg.data, path);
    }
    bmx_run_config hc = bmx_run_config_default();
    bmx_run_strings st = {0};
    char name[PATH_MAX + 64], diff[300] = "";
    /* what a resume may change */
    static const char *const may_change[] = {"steps",  "threads",   "data", "out",
                                             "device", "precision", NULL};
    int ndiff = 0;
    snprintf(name, sizeof name, "the header of %s", path);
    if (cf && cf->t == BMX_JSTR)
        rc = bmx_run_config_parse(&hc, cf->s, strlen(cf->s), name, &st, err);
    if (!rc && cf)
        ndiff = bmx_config_diff(bmx_run_keys(), &hc, &r->cfg, may_change, diff, sizeof diff);
    bmx_run_strings_free(&st);
    bmx_jval_free(h);
    if (rc)
        return rc;
    if (ndiff)
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: config.txt differs from the configuration the run "
                           "started with (in the header of %s) in: %s. An exact resume cannot "
                           "change them: restore them, or start a new run from this config.txt",
                           r->dir, path, diff);
    return 0;
}

/* log.jsonl up to the checkpoint's length loglen must be the header, then step records
 * 1..step (evaluations between them), ending at a line's end. */
static int check_log(bmx_run *r, const char *path, uint64_t loglen, const char *ck, bmx_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot resume: %s is missing: %s", path, strerror(errno));
    if (loglen == 0 || (uint64_t)st.st_size < loglen)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s says log.jsonl held %llu bytes at step %ld, but %s "
                           "holds %lld%s; the run folder was changed by hand",
                           ck, (unsigned long long)loglen, r->step, path, (long long)st.st_size,
                           loglen ? "" : " (a log always starts with its header)");
    FILE *f = fopen(path, "rb");
    if (!f)
        return bmx_err_set(err, BMX_EIO, "cannot resume: cannot open %s: %s", path,
                           strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    uint64_t pos = 0;
    long steps = 0, lineno = 0;
    int rc = 0;
    static const char step_rec[] = "{\"type\":\"step\",\"step\":";
    while (!rc && pos < loglen) {
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0 || (pos += (uint64_t)n) > loglen || line[n - 1] != '\n') {
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "cannot resume: %s says log.jsonl held %llu bytes, which is not "
                             "the end of a line of %s; the run folder was changed by hand",
                             ck, (unsigned long long)loglen, path);
            break;
        }
        if (++lineno == 1) {
            rc = check_header(r, line, (size_t)n - 1, path, err);
        } else if (strncmp(line, step_rec, sizeof step_rec - 1) == 0) {
            if (strtol(line + sizeof step_rec - 1, NULL, 10) != ++steps)
                rc = bmx_err_set(err, BMX_ECORRUPT,
                                 "cannot resume: %s:%ld is not the record of step %ld; the log "
                                 "was changed by hand",
                                 path, lineno, steps);
        }
    }
    free(line);
    fclose(f);
    if (!rc && steps != r->step)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "cannot resume: %s says step %ld, but %s holds %ld step records up to "
                         "the checkpoint's length; refusing to resume",
                         ck, r->step, path, steps);
    return rc;
}

/* The policy of a checkpoint's "policy" section, checked against the run's. */
static int restore_policy(bmx_run *r, bmx_ckpt_reader *ck, bmx_err *err)
{
    void *buf = NULL;
    size_t n = 0;
    bmx_mix *m = NULL;
    int rc = bmx_ckpt_read_alloc(ck, "policy", &buf, &n, err);
    if (!rc)
        rc = bmx_mix_restore(&m, buf, n, err);
    free(buf);
    if (rc)
        return rc;
    if (bmx_mix_arms(m) != r->K || strcmp(bmx_mix_spec(m), bmx_mix_spec(r->mix)) != 0) {
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s: the policy state is %s over %d arms, the run's "
                         "is %s over %d",
                         bmx_ckpt_path(ck), bmx_mix_spec(m), bmx_mix_arms(m), bmx_mix_spec(r->mix),
                         r->K);
        bmx_mix_free(m);
        return rc;
    }
    bmx_mix_free(r->mix);
    r->mix = m;
    bmx_mix_set_parallel(r->mix, parallel_for, NULL);
    return BMX_OK;
}

static int restore(bmx_run *r, bmx_ckpt_reader *rd, bmx_err *err)
{
    unsigned char run[BMX_RUN_SECTION];
    const char *ck = bmx_ckpt_path(rd);
    int rc = bmx_ckpt_read(rd, "run", run, sizeof run, err);
    if (rc)
        return rc;
    uint32_t ver = bmx_le_get32(run), K = bmx_le_get32(run + 4);
    if (ver != BMX_RUN_STATE_VERSION || K != (uint32_t)r->K)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: run state version %u with %u domains; this run has %d domains "
                           "(version %u)",
                           ck, ver, K, r->K, BMX_RUN_STATE_VERSION);
    int64_t step = (int64_t)bmx_le_get64(run + 8);
    r->tokens = bmx_le_get64(run + 16);
    uint64_t loglen = bmx_le_get64(run + 24);
    if (step < 0 || step != (int64_t)bmx_trainer_step_count(r->tr))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says step %lld, its header step %ld: the file was "
                           "altered; refusing to resume from it",
                           ck, (long long)step, bmx_trainer_step_count(r->tr));
    r->step = (long)step;
    /* the log (and the configuration in its header, so batch, seq and accum) first */
    char path[PATH_MAX + 32];
    path_in(r, path, sizeof path, "log.jsonl");
    if ((rc = check_log(r, path, loglen, ck, err)))
        return rc;
    uint64_t tps = (uint64_t)r->cfg.batch * (uint64_t)r->cfg.seq * (uint64_t)r->cfg.accum *
                   (uint64_t)r->nranks;
    if (r->tokens % tps != 0 || r->tokens / tps != (uint64_t)step)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says %llu tokens after %lld steps of %llu tokens: "
                           "the file was altered; refusing to resume from it",
                           ck, (unsigned long long)r->tokens, (long long)step,
                           (unsigned long long)tps);
    unsigned char *rng = malloc((size_t)r->K * 32);
    if (!rng)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the run state");
    if (!(rc = bmx_ckpt_read(rd, "rng", rng, (size_t)r->K * 32, err)))
        for (int i = 0; i < r->K; i++)
            for (int k = 0; k < 4; k++)
                r->drng[i].s[k] = bmx_le_get64(rng + 32 * i + 8 * k);
    free(rng);
    if (rc || (rc = restore_policy(r, rd, err)))
        return rc;
    if (r->rank == 0 && (rc = cut_file(path, loglen, err)))
        return rc;
    path_in(r, path, sizeof path, "timing.jsonl");
    if (r->rank == 0 && (rc = cut_timing(path, r->step, err)))
        return rc;
    r->last_ckpt = r->step;
    r->have_ckpt = 1;
    return 0;
}

/* config.txt's optimizer values (want) against the checkpoint's (have): refuse any edit,
 * naming the keys. */
static int check_optimizer(const char *ck, const bmx_train_config *have,
                           const bmx_train_config *want, bmx_err *err)
{
    char diff[320] = "";
    size_t n = 0;
#define DIFF(cond, key, a, b)                                                                      \
    if ((cond) && n < sizeof diff)                                                                 \
    n += (size_t)snprintf(diff + n, sizeof diff - n, "%s%s %.9g (checkpoint %.9g)", n ? ", " : "", \
                          key, (double)(a), (double)(b))
    DIFF(want->lr != have->lr, "lr", want->lr, have->lr);
    DIFF(want->min_lr != have->min_lr, "min_lr", want->min_lr, have->min_lr);
    DIFF(want->warmup != have->warmup, "warmup", want->warmup, have->warmup);
    DIFF(want->total != have->total, "schedule", want->total, have->total);
    DIFF(want->beta1 != have->beta1, "beta1", want->beta1, have->beta1);
    DIFF(want->beta2 != have->beta2, "beta2", want->beta2, have->beta2);
    DIFF(want->weight_decay != have->weight_decay, "weight_decay", want->weight_decay,
         have->weight_decay);
    DIFF(want->clip != have->clip, "clip", want->clip, have->clip);
    DIFF(want->accum != have->accum, "accum", want->accum, have->accum);
#undef DIFF
    if (n)
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume: config.txt's optimizer values differ from those %s "
                           "was saved with: %s. An exact resume continues the checkpoint's "
                           "optimizer: restore them, or start a new run",
                           ck, diff);
    return 0;
}

/* Resume: the model, optimizer and run state of checkpoint.bin, checked against config.txt
 * and log.jsonl. */
int bmx_run_state_resume(bmx_run *r, const char *path, const bmx_gpt_config *mc,
                         const bmx_train_config *tc, bmx_err *err)
{
    bmx_ckpt_reader *rd = NULL;
    int rc = bmx_ckpt_open(path, &rd, err);
    if (!rc)
        rc = bmx_ckpt_load_trainer(rd, 1, &r->model, &r->tr, err);
    const bmx_gpt_config *lc = rc ? NULL : bmx_model_config(r->model);
    if (lc && memcmp(lc, mc, sizeof *mc) != 0)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s holds a model V=%d ctx=%d L=%d H=%d C=%d, but config.txt "
                         "says V=%d ctx=%d L=%d H=%d C=%d",
                         path, lc->vocab, lc->ctx, lc->layers, lc->heads, lc->width, mc->vocab,
                         mc->ctx, mc->layers, mc->heads, mc->width);
    if (!rc && !(rc = check_optimizer(path, bmx_trainer_config(r->tr), tc, err)))
        rc = restore(r, rd, err);
    bmx_ckpt_close(rd);
    if (!rc && r->step > r->cfg.steps)
        rc = bmx_err_set(err, BMX_EINVAL,
                         "%s is already at step %ld, past --steps %ld: give more steps", r->dir,
                         r->step, r->cfg.steps);
    return rc;
}

int bmx_run_policy_load(const char *run_dir, bmx_mix **out, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_ckpt_reader *rd = NULL;
    void *buf = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/checkpoint.bin", run_dir);
    int rc = bmx_ckpt_open(path, &rd, err);
    if (!rc)
        rc = bmx_ckpt_read_alloc(rd, "policy", &buf, &n, err);
    bmx_ckpt_close(rd);
    if (!rc)
        rc = bmx_mix_restore(out, buf, n, err);
    free(buf);
    return rc;
}
