/* src/flad/run.c - a FLAD run as a kind of run of the run handle (bmx/run.h,
 * bmx_run_open_kind): a step is one round, its state checkpoint sections; in a run folder
 * laid out as bmx train's (bmx/flad.h): the configuration, the lock, the JSONL log, exact
 * resume. bmx_flad_run drives it with bmx_run_drive, as bmx_run_train drives a training run. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/checkpoint.h"
#include "bmx/flad.h"
#include "bmx/kernels.h"
#include "bmx/core.h"
#include "flad_int.h"

#define MAX_AUX_TASKS 128
#define MAX_ARMS      (MAX_AUX_TASKS * BMX_TASK_TEMPLATES)
#define STATE_VERSION 2u /* the "flad.run" section's; 1: one "extra" section, "BMXFRUN1" */
#define RUN_SECTION   24

/* What a resume may change: where the folder is, how far it runs, how often it checkpoints,
 * the threads (the same threads are needed for a byte-identical result), the device and its
 * precision (the checkpoint holds the host state whatever the device: bmx/flad.h). */
static const char *const free_keys[] = {"out",    "rounds",    "ckpt_every", "threads",
                                        "device", "precision", NULL};

struct frun {
    bmx_flad_run_config cfg; /* min_rounds resolved */
    bmx_flad_run_opts opts;
    char dir[PATH_MAX];
    char *cfg_text; /* config.txt's keys (out left empty: the folder is where it lives) */
    int lock_fd;
    bmx_tok *tok;
    bmx_task *target, *auxt[MAX_AUX_TASKS];
    char *names[MAX_AUX_TASKS];
    int nnames;
    bmx_flad_aux *aux;
    int naux;
    char (*anames)[96]; /* "task/template" per arm */
    bmx_model *m;
    bmx_trainer *tr;
    bmx_backend *be; /* the trainer's (bmx/backend.h): FLAD reaches the model through it */
    bmx_flad *f;
    FILE *log;
    bmx_json j;
    bmx_flad_info in; /* the last round */
    int pending;      /* its record waits for its validation (bmx_run_evaluate) */
};

static void path_in(const struct frun *r, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

static void frun_free(void *impl)
{
    struct frun *r = impl;
    if (!r)
        return;
    if (r->log)
        fclose(r->log);
    bmx_json_free(&r->j);
    bmx_flad_free(r->f);
    bmx_backend_free(r->be);
    bmx_trainer_free(r->tr);
    bmx_model_free(r->m);
    free(r->aux);
    free(r->anames);
    for (int i = 0; i < r->nnames; i++) {
        bmx_task_free(r->auxt[i]);
        free(r->names[i]);
    }
    bmx_task_free(r->target);
    bmx_tok_free(r->tok);
    free(r->cfg_text);
    bmx_run_unlock(r->lock_fd);
    free(r);
}

/* ---- the auxiliary pool ---- */

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Task names of the auxiliary pool: every DIR/NAME.task, or the list; minus target + holdout. */
static int aux_names(struct frun *r, bmx_err *err)
{
    const bmx_flad_run_config *c = &r->cfg;
    int n = 0;
    if (!strcmp(c->aux, "all")) {
        DIR *d = opendir(c->tasks);
        if (!d)
            return bmx_err_set(err, BMX_EINVAL,
                               "%s: cannot open the task folder: %s (build it with 'bmx tasks "
                               "build --out %s')",
                               c->tasks, strerror(errno), c->tasks);
        struct dirent *de;
        while ((de = readdir(d)) && n < MAX_AUX_TASKS) {
            size_t l = strlen(de->d_name);
            if (l > 5 && !strcmp(de->d_name + l - 5, ".task"))
                r->names[n++] = strndup(de->d_name, l - 5);
        }
        closedir(d);
        qsort(r->names, (size_t)n, sizeof *r->names, cmp_str);
    } else {
        char *copy = strdup(c->aux), *save = NULL;
        for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; s && n < MAX_AUX_TASKS;
             s = strtok_r(NULL, ",", &save))
            if (*s)
                r->names[n++] = strdup(s);
        free(copy);
    }
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (!r->names[i] || !strcmp(r->names[i], c->target) || in_list(c->holdout, r->names[i]))
            free(r->names[i]);
        else
            r->names[w++] = r->names[i];
    }
    r->nnames = w;
    return 0;
}

/* The time scale behind the default min_rounds: cfg's tscale, or exp3's own, or 1. */
static double min_rounds_tscale(const bmx_flad_run_config *c, int naux)
{
    double S = 1;
    bmx_mix *m = NULL;
    if (c->tscale > 0)
        return c->tscale;
    if (naux > 0 && strcspn(c->policy, ":") == 4 && !strncmp(c->policy, "exp3", 4) &&
        !bmx_mix_create(&m, c->policy, naux, NULL, 1, NULL))
        S = bmx_mix_tscale(m); /* a bad spec is reported by bmx_flad_create */
    bmx_mix_free(m);
    return S;
}

/* Target, tokenizer and the auxiliary pool (every template of every task); min_rounds
 * resolved from the pool's size. */
static int open_tasks(struct frun *r, bmx_err *err)
{
    bmx_flad_run_config *c = &r->cfg;
    int target_only = !strncmp(c->policy, "target-only", 11), rc;
    if ((rc = bmx_task_open(&r->target, c->tasks, c->target, err)) ||
        (rc = bmx_tok_load(&r->tok, c->tok, err)) || (rc = aux_names(r, err)))
        return rc;
    if (!target_only && r->nnames == 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "the auxiliary pool is empty after holding out %s and %s: give --aux "
                           "LIST or change --holdout",
                           c->target, c->holdout);
    r->aux = calloc((size_t)r->nnames * BMX_TASK_TEMPLATES + 1, sizeof *r->aux);
    r->anames = calloc((size_t)r->nnames * BMX_TASK_TEMPLATES + 1, sizeof *r->anames);
    if (!r->aux || !r->anames)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the auxiliary pool");
    for (int i = 0; i < r->nnames && !target_only; i++) {
        if ((rc = bmx_task_open(&r->auxt[i], c->tasks, r->names[i], err)))
            return rc;
        for (int k = 0; k < BMX_TASK_TEMPLATES; k++) {
            snprintf(r->anames[r->naux], sizeof r->anames[0], "%s/%d", bmx_task_name(r->auxt[i]),
                     k);
            r->aux[r->naux++] = (bmx_flad_aux){r->auxt[i], k};
        }
    }
    /* the default minimum: from the pool's K, target-only's too (it draws from no pool, but
     * is compared with runs that do) */
    int kpool = target_only ? r->nnames * BMX_TASK_TEMPLATES : r->naux;
    double S = min_rounds_tscale(c, r->naux);
    long uni = bmx_mix_uniform_rounds(kpool, S);
    if (c->min_rounds < 0)
        c->min_rounds = kpool ? uni + 1 : 0;
    if (!strncmp(c->policy, "exp3", 4) && c->rounds <= uni)
        bmx_log(&r->opts.log, BMX_LOG_WARN,
                "note: over K = %d auxiliary datasets with tscale %g, EXP3-FLAD is exactly "
                "uniform (draw for draw explore-only) for its first %ld rounds (S t <= K ln K); "
                "--rounds %d never gets past them: give --rounds > %ld or exp3:tscale=S",
                r->naux, S, uni, c->rounds, uni);
    return 0;
}

/* config.txt against the configuration given: only free_keys may differ. */
static int check_same_config(const struct frun *r, const char *text, size_t len, const char *name,
                             bmx_err *err)
{
    bmx_flad_run_config had = bmx_flad_run_config_default();
    bmx_run_strings st = {0};
    char diff[400];
    int rc = bmx_config_parse(bmx_flad_run_keys(), &had, text, len, name, &st, err);
    if (!rc && bmx_config_diff(bmx_flad_run_keys(), &had, &r->cfg, free_keys, diff, sizeof diff))
        rc = bmx_err_set(err, BMX_EINVAL,
                         "cannot resume %s: it was started with other settings (%s) in: %s. "
                         "Resume with the same options (or with none but --resume --out and "
                         "--rounds), or use a new --out",
                         r->dir, name, diff);
    bmx_run_strings_free(&st);
    return rc;
}

/* The run folder: created and locked (new), or locked with its config.txt checked (resume);
 * the stale temporaries of a killed run removed either way. */
static int open_folder(struct frun *r, int resume, bmx_err *err)
{
    char path[PATH_MAX + 32], lp[PATH_MAX + 32];
    struct stat st;
    int rc;
    path_in(r, path, sizeof path, "config.txt");
    if (resume && stat(path, &st) != 0) {
        path_in(r, lp, sizeof lp, "ckpt.bin");
        return bmx_err_set(err, BMX_EINVAL,
                           "cannot resume %s: it holds no config.txt (%s); start the run again "
                           "without --resume",
                           r->dir,
                           stat(lp, &st) == 0 ? "a run folder of an older bmx flad, config.json "
                                                "and ckpt.bin, which this one cannot continue"
                                              : "not a run folder, or the run never started");
    }
    if (!resume && (rc = bmx_file_mkdir_p(r->dir, err)))
        return rc;
    if ((rc = bmx_run_lock(r->dir, &r->lock_fd, err)))
        return rc;
    bmx_run_clean_temporaries(r->dir, &r->opts.log);
    if (resume) {
        char *text = NULL;
        size_t n = 0;
        if ((rc = bmx_file_read_all(path, BMX_RUN_CONFIG_MAX, &text, &n, err)) == 0)
            rc = check_same_config(r, text, n, path, err);
        free(text);
        return rc;
    }
    path_in(r, lp, sizeof lp, "checkpoint.bin");
    if (stat(lp, &st) == 0 || (path_in(r, lp, sizeof lp, "log.jsonl"), stat(lp, &st) == 0))
        return bmx_err_set(err, BMX_EINVAL,
                           "%s already holds a run: continue it with --resume, or give another "
                           "--out",
                           r->dir);
    return 0;
}

static int write_config(const struct frun *r, bmx_err *err)
{
    char path[PATH_MAX + 32];
    bmx_sbuf b = {0};
    bmx_sbuf_puts(&b, "# bmx flad configuration (bmx flad --config this-file)\n");
    bmx_sbuf_puts(&b, r->cfg_text);
    path_in(r, path, sizeof path, "config.txt");
    int rc = b.oom ? bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path)
                   : bmx_file_write_atomic(path, b.p, b.len, err);
    bmx_sbuf_free(&b);
    return rc;
}

/* ---- the log ---- */

/* The header record into j (not written). */
static void header_record(const struct frun *r, bmx_json *j)
{
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "header");
    bmx_json_kv_int(j, "version", 1);
    bmx_json_kv_str(j, "method", "flad");
    bmx_json_kv_str(j, "target", r->cfg.target);
    bmx_json_kv_int(j, "split", r->cfg.split);
    bmx_json_kv_str(j, "policy", r->cfg.policy);
    bmx_json_kv_str(j, "reward", r->cfg.reward);
    bmx_json_kv_u64(j, "seed", r->cfg.seed);
    bmx_json_key(j, "aux");
    bmx_json_arr(j);
    for (int a = 0; a < r->naux; a++)
        bmx_json_str(j, r->anames[a]);
    bmx_json_end_arr(j);
    bmx_json_kv_int(j, "params", (long long)bmx_model_num_params(r->m));
    bmx_json_end_obj(j);
}

static int round_record(struct frun *r, const bmx_flad_info *in, bmx_err *err)
{
    bmx_json *j = &r->j;
    bmx_json_obj(j);
    bmx_json_kv_str(j, "type", "round");
    bmx_json_kv_int(j, "round", in->round);
    bmx_json_kv_int(j, "arm", in->arm);
    if (in->arm >= 0)
        bmx_json_kv_str(j, "aux", r->anames[in->arm]);
    bmx_json_kv_num(j, "reward", in->reward);
    if (in->draws > 1) {
        bmx_json_key(j, "arms");
        bmx_json_ints(j, in->arms, (size_t)in->draws);
        bmx_json_key(j, "rewards");
        bmx_json_nums(j, in->rewards, (size_t)in->draws);
    }
    bmx_json_kv_num(j, "target_loss", in->target_loss);
    bmx_json_kv_num(j, "aux_loss", in->aux_loss);
    if (bmx_flad_mix(r->f)) {
        bmx_json_key(j, "pi_uniform");
        bmx_json_bool(j, !in->nonuniform);
        bmx_json_key(j, "probs");
        bmx_json_nums(j, bmx_mix_probs(bmx_flad_mix(r->f)), (size_t)r->naux);
    }
    if (in->evaluated)
        bmx_json_kv_num(j, "val_acc", in->val_acc);
    bmx_json_kv_num(j, "best_val", in->best_val);
    bmx_json_end_obj(j);
    return bmx_json_line(j, r->log, "log.jsonl", err);
}

/* log.jsonl up to loglen must be this run's header, then round records 1..round, ending at a
 * line's end; then it is cut back to loglen. */
static int check_log(struct frun *r, uint64_t loglen, long round, const char *ck, bmx_err *err)
{
    char path[PATH_MAX + 32];
    static const char rec[] = "{\"type\":\"round\",\"round\":";
    bmx_json h = {0};
    char *line = NULL;
    size_t cap = 0;
    uint64_t pos = 0;
    long rounds = 0, lineno = 0;
    int rc = 0;
    struct stat st;
    FILE *f = NULL;
    path_in(r, path, sizeof path, "log.jsonl");
    if (stat(path, &st) != 0 || (uint64_t)st.st_size < loglen || loglen == 0)
        return bmx_err_set(err, BMX_ECORRUPT,
                           "cannot resume: %s says log.jsonl held %llu bytes at round %ld, but "
                           "%s holds %lld; the run folder was changed by hand",
                           ck, (unsigned long long)loglen, round, path,
                           stat(path, &st) == 0 ? (long long)st.st_size : -1LL);
    if ((rc = bmx_file_fopen_regular(path, &f, err)))
        return rc;
    header_record(r, &h);
    while (!rc && pos < loglen) {
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0 || (pos += (uint64_t)n) > loglen || line[n - 1] != '\n')
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "cannot resume: %s says log.jsonl held %llu bytes, which is not the "
                             "end of a line of %s; the run folder was changed by hand",
                             ck, (unsigned long long)loglen, path);
        else if (++lineno == 1 && ((size_t)n - 1 != h.out.len || memcmp(line, h.out.p, h.out.len)))
            rc = bmx_err_set(err, BMX_EINVAL,
                             "cannot resume: the header of %s is not this run's (another "
                             "auxiliary pool, target, policy or model?): %.*s",
                             path, (int)(n > 200 ? 200 : n - 1), line);
        else if (lineno > 1 && (strncmp(line, rec, sizeof rec - 1) != 0 ||
                                strtol(line + sizeof rec - 1, NULL, 10) != ++rounds))
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "cannot resume: %s:%ld is not the record of round %ld; the log was "
                             "changed by hand",
                             path, lineno, rounds);
    }
    free(line);
    fclose(f);
    bmx_json_free(&h);
    if (!rc && rounds != round)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "cannot resume: %s says round %ld, but %s holds %ld round records up to "
                         "the checkpoint's length; refusing to resume",
                         ck, round, path, rounds);
    if (!rc && truncate(path, (off_t)loglen) != 0)
        rc = bmx_err_set(err, BMX_EIO, "cannot cut %s back to the checkpoint: %s", path,
                         strerror(errno));
    return rc;
}

/* The last round's record and its progress report, when still to be written. */
static int flush_round(struct frun *r, bmx_err *err)
{
    if (!r->pending)
        return BMX_OK;
    r->pending = 0;
    int rc = round_record(r, &r->in, err);
    if (!rc && r->opts.progress)
        r->opts.progress(r->opts.progress_ctx, &r->in);
    return rc;
}

/* ---- checkpoints: the trainer's sections, "flad.run" (u32 version 2, u32 naux, u64 round,
 * u64 bytes of log.jsonl), "flad.cfg" (the configuration text), then FLAD's (flad.h) ---- */

static int flad_save(void *impl, bmx_ckpt_writer *w, bmx_err *err)
{
    struct frun *r = impl;
    unsigned char run[RUN_SECTION];
    int rc = flush_round(r, err);
    if (rc)
        return rc;
    if (fflush(r->log) || fsync(fileno(r->log)))
        return bmx_err_set(err, BMX_EIO, "cannot write %s/log.jsonl: %s", r->dir, strerror(errno));
    bmx_le_put32(run, STATE_VERSION);
    bmx_le_put32(run + 4, (uint32_t)r->naux);
    bmx_le_put64(run + 8, (uint64_t)bmx_flad_rounds(r->f));
    bmx_le_put64(run + 16, (uint64_t)ftell(r->log));
    if (!(rc = bmx_backend_sync_to_host(r->be, err)) && /* the model and moments -> r->tr */
        !(rc = bmx_ckpt_add_trainer(w, r->tr, err)) &&
        !(rc = bmx_ckpt_add(w, "flad.run", run, sizeof run, err)) &&
        !(rc = bmx_ckpt_add(w, "flad.cfg", r->cfg_text, strlen(r->cfg_text), err)))
        rc = bmx_flad_save_sections(r->f, w, err);
    return rc;
}

/* No "flad.run" in checkpoint ck: an older bmx flad's (its run state in one "extra" section)
 * is named by its version, anything else as another kind of checkpoint. */
static int foreign_state(bmx_ckpt_reader *rd, const char *ck, bmx_err *err)
{
    unsigned char *x = NULL;
    size_t n = 0;
    int old = bmx_ckpt_has(rd, "extra", NULL) &&
              !bmx_ckpt_read_alloc(rd, "extra", (void **)&x, &n, err) && n >= 12 &&
              !memcmp(x, "BMXFRUN1", 8);
    uint32_t ver = old ? bmx_le_get32(x + 8) : 0;
    free(x);
    if (old)
        return bmx_err_set(err, BMX_EINVAL,
                           "%s: a bmx flad run state of version %u (one \"extra\" section, an "
                           "older bmx flad); this build reads version %u (sections flad.*): "
                           "start the run again in a new --out",
                           ck, ver, STATE_VERSION);
    return bmx_err_set(err, BMX_ECORRUPT,
                       "%s: no bmx flad run state in the checkpoint (a checkpoint of another "
                       "kind of run?); give a new --out",
                       ck);
}

/* The run state of checkpoint rd (ck) into the run: its configuration against this one, its
 * round against the checkpoint's step and the log, then the FLAD state. */
static int restore(struct frun *r, bmx_ckpt_reader *rd, const char *ck, bmx_err *err)
{
    unsigned char run[RUN_SECTION];
    char *text = NULL, name[PATH_MAX + 64];
    size_t cl = 0;
    if (!bmx_ckpt_has(rd, "flad.run", NULL))
        return foreign_state(rd, ck, err);
    int rc = bmx_ckpt_read(rd, "flad.run", run, sizeof run, err);
    if (rc)
        return rc;
    uint32_t ver = bmx_le_get32(run), naux = bmx_le_get32(run + 4);
    uint64_t round = bmx_le_get64(run + 8), loglen = bmx_le_get64(run + 16);
    if (ver != STATE_VERSION)
        return bmx_err_set(err, BMX_EINVAL,
                           "%s: run state version %u; this build reads version %u: start the run "
                           "again in a new --out",
                           ck, ver, STATE_VERSION);
    snprintf(name, sizeof name, "the configuration in %s", ck);
    if (!(rc = bmx_ckpt_read_alloc(rd, "flad.cfg", (void **)&text, &cl, err)))
        rc = check_same_config(r, text ? text : "", cl, name, err);
    free(text);
    if (!rc && naux != (uint32_t)r->naux)
        rc = bmx_err_set(err, BMX_ECORRUPT,
                         "%s: its run state has %u auxiliary datasets, this run %d: the file was "
                         "altered; refusing to resume from it",
                         ck, naux, r->naux);
    if (rc || (rc = bmx_flad_load_sections(r->f, rd, err)) ||
        (rc = bmx_backend_sync_from_host(r->be, err))) /* r->tr as loaded -> the backend */
        return rc;
    if (round != (uint64_t)bmx_flad_rounds(r->f) ||
        round != (uint64_t)bmx_trainer_step_count(r->tr))
        return bmx_err_set(err, BMX_ECORRUPT,
                           "%s: its run state says round %llu, its FLAD state %ld and its header "
                           "step %ld: the file was altered; refusing to resume from it",
                           ck, (unsigned long long)round, bmx_flad_rounds(r->f),
                           bmx_trainer_step_count(r->tr));
    return check_log(r, loglen, (long)round, ck, err);
}

/* ---- set-up ---- */

/* A new model: theta_0 (flad_init_model) with a fresh optimizer. */
static int new_model(struct frun *r, bmx_err *err)
{
    bmx_train_config tc = flad_train_config(&r->cfg);
    int rc = flad_init_model(&r->cfg, r->tok, &r->m, err);
    return rc ? rc : bmx_trainer_create(r->m, &tc, &r->tr, err);
}

static int make_flad(struct frun *r, bmx_err *err)
{
    bmx_flad_config fc = bmx_flad_config_default();
    fc.policy = r->cfg.policy;
    bmx_reward_parse(r->cfg.reward, &fc.reward, NULL);
    fc.params = r->cfg.params;
    fc.batch = r->cfg.batch;
    fc.T = r->cfg.seq;
    fc.eval_every = r->cfg.eval_every;
    fc.patience = r->cfg.patience;
    fc.split = r->cfg.split;
    fc.seed = r->cfg.seed;
    fc.aux_draws = r->cfg.aux_draws;
    fc.min_rounds = r->cfg.min_rounds;
    return bmx_flad_create_backend(&r->f, &fc, r->be, r->tok, r->target, r->aux, r->naux, err);
}

/* From the checkpoint (resume) or new; then log.jsonl opened where the run goes on. */
static int open_run(struct frun *r, int resume, int *resumed, bmx_err *err)
{
    char ck[PATH_MAX + 32], path[PATH_MAX + 32];
    struct stat st;
    bmx_ckpt_reader *rd = NULL;
    int rc;
    path_in(r, ck, sizeof ck, "checkpoint.bin");
    int from_ckpt = resume && stat(ck, &st) == 0;
    *resumed = from_ckpt;
    if (from_ckpt) {
        if (!(rc = bmx_ckpt_open(ck, &rd, err)))
            rc = bmx_ckpt_load_trainer(rd, r->cfg.blas, &r->m, &r->tr, err);
        bmx_train_config want = flad_train_config(&r->cfg);
        const bmx_train_config *have = rc ? NULL : bmx_trainer_config(r->tr);
        if (!rc && (have->lr != want.lr || have->weight_decay != want.weight_decay ||
                    have->accum != 1 || have->warmup != 0 || have->total != want.total))
            rc = bmx_err_set(err, BMX_ECORRUPT,
                             "%s holds an optimizer with lr %g, weight decay %g; config.txt says "
                             "lr %g, weight decay %g: the folder was changed by hand",
                             ck, have->lr, have->weight_decay, want.lr, want.weight_decay);
    } else {
        rc = new_model(r, err);
    }
    if (!rc && !(rc = flad_backend(&r->cfg, r->tr, r->target, &r->be, err)))
        rc = make_flad(r, err);
    if (!rc && from_ckpt)
        rc = restore(r, rd, ck, err);
    bmx_ckpt_close(rd);
    if (!rc)
        rc = write_config(r, err); /* on resume too: --rounds may change */
    if (rc)
        return rc;
    path_in(r, path, sizeof path, "log.jsonl");
    if (!(r->log = fopen(path, from_ckpt ? "a" : "w")))
        return bmx_err_set(err, BMX_EIO, "cannot open %s for writing: %s", path, strerror(errno));
    if (from_ckpt)
        return 0;
    header_record(r, &r->j);
    return bmx_json_line(&r->j, r->log, "log.jsonl", err);
}

/* ---- the run ---- */

/* One round: the FLAD step (target gradient, auxiliary draws, their gradients and rewards,
 * the policy's observations, the optimizer, the policy's round end), then its log record;
 * a round due for validation keeps its record for the validation (flad_log_eval). The record
 * of a round whose validation was not asked for is written first. The handle validates and
 * checkpoints when due. */
static int flad_step(void *impl, int *ended, bmx_err *err)
{
    struct frun *r = impl;
    int rc = flush_round(r, err);
    if (!rc)
        rc = bmx_flad_step(r->f, &r->in, err);
    if (rc)
        return rc;
    r->pending = 1;
    *ended = 0; /* only a validation ends a FLAD run early */
    return bmx_flad_validation_due(r->f) ? BMX_OK : flush_round(r, err);
}

/* Validation on the target's few-shot validation set: the best parameters kept, early
 * stopping decided (bmx_flad_validate). */
static int flad_evaluate(void *impl, bmx_run_eval *ev, int *ended, bmx_err *err)
{
    struct frun *r = impl;
    int rc = bmx_flad_validate(r->f, &r->in, err);
    if (rc)
        return rc;
    ev->acc = r->in.val_acc;
    ev->best = r->in.best_val;
    ev->best_step = r->in.best_round;
    *ended = r->in.stopped;
    return BMX_OK;
}

/* The round's record, with its validation. */
static int flad_log_eval(void *impl, const bmx_run_eval *ev, bmx_err *err)
{
    return flush_round(impl, err);
}

static const bmx_run_kind flad_kind = {
    .unit = "round",
    .arms = "auxiliary datasets",
    .step = flad_step,
    .save = flad_save,
    .close = frun_free,
    .evaluate = flad_evaluate,
    .log_eval = flad_log_eval,
};

static int write_result(struct frun *r, const bmx_flad_result *res, bmx_err *err)
{
    char path[PATH_MAX + 32];
    const long *cnt = bmx_flad_arm_counts(r->f);
    bmx_json j = {0};
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "target", r->cfg.target);
    bmx_json_kv_int(&j, "split", r->cfg.split);
    bmx_json_kv_str(&j, "policy", r->cfg.policy);
    bmx_json_kv_str(&j, "reward", r->cfg.reward);
    bmx_json_kv_num(&j, "test_acc", res->test_sum);
    bmx_json_kv_num(&j, "test_acc_mean_logp", res->test_mean);
    bmx_json_kv_num(&j, "best_val", res->best_val);
    bmx_json_kv_int(&j, "best_round", res->best_round);
    bmx_json_kv_int(&j, "rounds", res->rounds);
    bmx_json_key(&j, "stopped_early");
    bmx_json_bool(&j, res->stopped);
    bmx_json_kv_int(&j, "aux_batches", res->aux_batches);
    bmx_json_kv_int(&j, "aux_draws", r->cfg.aux_draws);
    bmx_json_kv_int(&j, "min_rounds", res->min_rounds);
    bmx_json_kv_int(&j, "nonuniform_rounds", res->nonuniform);
    bmx_json_key(&j, "arm_counts");
    bmx_json_obj(&j);
    for (int a = 0; a < r->naux; a++)
        bmx_json_kv_int(&j, r->anames[a], cnt[a]);
    bmx_json_end_obj(&j);
    bmx_json_end_obj(&j);
    bmx_sbuf_put(&j.out, "\n", 1);
    path_in(r, path, sizeof path, "result.json");
    int rc = j.out.oom || j.bad ? bmx_err_set(err, BMX_ENOMEM, "out of memory writing %s", path)
                                : bmx_file_write_atomic(path, j.out.p, j.out.len, err);
    bmx_json_free(&j);
    return rc;
}

/* The best parameters scored on the test split; the result and its most-used datasets. */
int bmx_flad_run_finish(bmx_run *run, bmx_flad_result *res, bmx_err *err)
{
    struct frun *r = bmx_run_impl(run, &flad_kind);
    memset(res, 0, sizeof *res);
    if (!r)
        return bmx_err_set(err, BMX_EINVAL,
                           "bmx_flad_run_finish: not a FLAD run (open it with bmx_flad_open)");
    int rc = flush_round(r, err);
    if (!rc)
        rc = bmx_flad_finish(r->f, &res->test_sum, &res->test_mean, err);
    if (rc)
        return rc;
    const long *cnt = bmx_flad_arm_counts(r->f);
    res->best_val = bmx_flad_best_val(r->f, &res->best_round);
    res->rounds = bmx_flad_rounds(r->f);
    res->stopped = bmx_flad_stopped(r->f);
    res->aux_batches = bmx_flad_aux_batches(r->f);
    res->nonuniform = bmx_flad_nonuniform_rounds(r->f);
    res->min_rounds = r->cfg.min_rounds;
    res->arm_names = calloc((size_t)r->naux + 1, sizeof *res->arm_names);
    res->arm_counts = calloc((size_t)r->naux + 1, sizeof *res->arm_counts);
    if (!res->arm_names || !res->arm_counts)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for the result");
    res->naux = r->naux;
    for (int a = 0; a < r->naux; a++) {
        if (!(res->arm_names[a] = strdup(r->anames[a])))
            return bmx_err_set(err, BMX_ENOMEM, "out of memory for the result");
        res->arm_counts[a] = cnt[a];
    }
    unsigned char used[MAX_ARMS] = {0};
    for (int t = 0; t < BMX_FLAD_TOP && t < r->naux; t++) {
        int b = -1;
        for (int a = 0; a < r->naux; a++)
            if (!used[a] && (b < 0 || cnt[a] > cnt[b]))
                b = a;
        if (b < 0 || cnt[b] == 0)
            break;
        used[b] = 1;
        snprintf(res->top[t], sizeof res->top[t], "%s", r->anames[b]);
        res->top_count[t] = cnt[b];
        res->ntop = t + 1;
    }
    return write_result(r, res, err);
}

void bmx_flad_result_free(bmx_flad_result *r)
{
    for (int i = 0; r->arm_names && i < r->naux; i++)
        free(r->arm_names[i]);
    free(r->arm_names);
    free(r->arm_counts);
    r->arm_names = NULL;
    r->arm_counts = NULL;
    r->naux = 0;
}

int bmx_flad_open(bmx_run **out, const bmx_flad_run_config *cfg, const bmx_flad_run_opts *opts,
                  bmx_err *err)
{
    struct frun *r = calloc(1, sizeof *r);
    int rc, resume = opts && opts->resume, resumed = 0;
    *out = NULL;
    if (!r)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory for a FLAD run");
    r->lock_fd = -1;
    r->cfg = *cfg;
    flad_run_config_fill(&r->cfg);
    if (opts)
        r->opts = *opts;
    snprintf(r->dir, sizeof r->dir, "%s", cfg->out);
    if ((rc = flad_run_config_check(&r->cfg, resume, err)))
        goto fail;
    if (!*r->cfg.device) /* stored resolved */
        r->cfg.device = "cpu";
    bmx_flad_run_config stored = r->cfg;
    stored.out = "";
    if (r->cfg.threads > 0)
        bmx_kernels_set_threads(r->cfg.threads);
    if ((rc = open_tasks(r, err)))
        goto fail;
    stored.min_rounds = r->cfg.min_rounds;
    if (!(r->cfg_text = bmx_config_text(bmx_flad_run_keys(), &stored))) {
        rc = bmx_err_set(err, BMX_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = open_folder(r, resume, err)) || (rc = open_run(r, resume, &resumed, err)))
        goto fail;
    if (bmx_flad_rounds(r->f) > r->cfg.rounds) {
        rc = bmx_err_set(err, BMX_EINVAL, "%s is already at round %ld, past --rounds %d: give more",
                         r->dir, bmx_flad_rounds(r->f), r->cfg.rounds);
        goto fail;
    }
    bmx_run_sched s = {r->dir,  bmx_flad_rounds(r->f),  r->cfg.rounds, r->cfg.ckpt_every,
                       resumed, bmx_flad_stopped(r->f), r->naux,       r->cfg.eval_every};
    bmx_run_opts ro = {0};
    ro.stop = r->opts.stop;
    ro.log = r->opts.log;
    return bmx_run_open_kind(out, &flad_kind, r, &s, &ro, err);
fail:
    frun_free(r);
    return rc;
}

int bmx_flad_run(const bmx_flad_run_config *cfg, const bmx_flad_run_opts *opts,
                 bmx_flad_result *res, bmx_err *err)
{
    bmx_run *run = NULL;
    memset(res, 0, sizeof *res);
    int rc = bmx_flad_open(&run, cfg, opts, err);
    if (!rc)
        rc = bmx_run_drive(run, err);
    if (!rc)
        rc = bmx_flad_run_finish(run, res, err);
    if (rc)
        bmx_flad_result_free(res);
    bmx_run_close(run);
    return rc;
}
