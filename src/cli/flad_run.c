/* src/cli/flad_run.c - one FLAD run in a run folder (see flad_run.h). */
#include "flad_run.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/flad.h"
#include "bmx/kernels.h"
#include "bmx/report.h"

#define MAX_AUX_TASKS 128

void flad_opts_default(struct flad_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tasks = "tasks";
    o->aux = "all";
    o->holdout = "spam,genre,sotu-party,language";
    o->policy = "exp3";
    o->reward = "agg";
    o->params = "final";
    o->batch = 4;
    o->T = 64;
    o->rounds = 200;
    o->eval_every = 10;
    o->patience = 5;
    o->ckpt_every = 50;
    o->blas = 1;
    o->lr = 1e-4;
    o->seed = 1;
    o->aux_draws = 1;
    o->min_rounds = -1;
}

/* The time scale behind the default --min-rounds: o->tscale, or exp3's own, or 1. */
static double min_rounds_tscale(const struct flad_opts *o, int naux)
{
    double S = 1;
    bmx_mix *m = NULL;
    bmx_err err = {0};
    size_t n = strcspn(o->policy, ":");
    if (o->tscale > 0)
        return o->tscale;
    if (naux > 0 && n == 4 && !strncmp(o->policy, "exp3", 4) &&
        !bmx_mix_create(&m, o->policy, naux, NULL, 1, &err))
        S = bmx_mix_tscale(m); /* a bad spec is reported by bmx_flad_create */
    bmx_mix_free(m);
    return S;
}

void flad_result_free(struct flad_result *r)
{
    for (int i = 0; r->arm_names && i < r->naux; i++)
        free(r->arm_names[i]);
    free(r->arm_names);
    free(r->arm_counts);
    r->arm_names = NULL;
    r->arm_counts = NULL;
    r->naux = 0;
}

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

/* Task names for the auxiliary pool: every DIR/NAME.task, or the list; minus target + holdout. */
static int aux_names(const struct flad_opts *o, char **names, int *n)
{
    *n = 0;
    if (!strcmp(o->aux, "all")) {
        DIR *d = opendir(o->tasks);
        if (!d) {
            fprintf(stderr,
                    "bmx flad: %s: cannot open the task folder: %s (build it with 'bmx "
                    "tasks build --out %s')\n",
                    o->tasks, strerror(errno), o->tasks);
            return 1;
        }
        struct dirent *de;
        while ((de = readdir(d)) && *n < MAX_AUX_TASKS) {
            size_t l = strlen(de->d_name);
            if (l > 5 && !strcmp(de->d_name + l - 5, ".task"))
                names[(*n)++] = strndup(de->d_name, l - 5);
        }
        closedir(d);
        qsort(names, (size_t)*n, sizeof *names, cmp_str);
    } else {
        char *copy = strdup(o->aux);
        for (char *s = strtok(copy, ","); s && *n < MAX_AUX_TASKS; s = strtok(NULL, ","))
            if (*s)
                names[(*n)++] = strdup(s);
        free(copy);
    }
    int w = 0;
    for (int i = 0; i < *n; i++) {
        if (!strcmp(names[i], o->target) || in_list(o->holdout, names[i]))
            free(names[i]);
        else
            names[w++] = names[i];
    }
    *n = w;
    return 0;
}

static void config_json(const struct flad_opts *o, long min_rounds, const char *const *aux,
                        int naux, bmx_sbuf *out)
{
    bmx_json j = {0};
    bmx_json_obj(&j);
    bmx_json_kv_str(&j, "tasks", o->tasks);
    bmx_json_kv_str(&j, "target", o->target);
    bmx_json_kv_int(&j, "split", o->split);
    bmx_json_kv_str(&j, "policy", o->policy);
    bmx_json_kv_str(&j, "reward", o->reward);
    bmx_json_kv_str(&j, "params", o->params);
    bmx_json_kv_str(&j, "init", o->init ? o->init : "");
    bmx_json_kv_str(&j, "init_random", o->init_random ? o->init_random : "");
    bmx_json_kv_str(&j, "tok", o->tok);
    bmx_json_kv_int(&j, "batch", o->batch);
    bmx_json_kv_int(&j, "T", o->T);
    bmx_json_kv_int(&j, "eval_every", o->eval_every);
    bmx_json_kv_int(&j, "patience", o->patience);
    bmx_json_kv_int(&j, "min_rounds", min_rounds);
    bmx_json_kv_int(&j, "aux_draws", o->aux_draws);
    bmx_json_kv_num(&j, "lr", o->lr);
    bmx_json_kv_num(&j, "weight_decay", o->weight_decay);
    bmx_json_kv_int(&j, "seed", (long long)o->seed);
    bmx_json_key(&j, "aux");
    bmx_json_arr(&j);
    for (int i = 0; i < naux; i++)
        bmx_json_str(&j, aux[i]);
    bmx_json_end_arr(&j);
    bmx_json_end_obj(&j);
    bmx_sbuf_puts(out, bmx_sbuf_str(&j.out));
    bmx_json_free(&j);
}

/* Keep the lines of path whose "round" is <= upto (a resume replays the rest). */
static int truncate_log(const char *path, long upto)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    bmx_sbuf keep = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        long r;
        if (sscanf(line, "{\"round\":%ld", &r) == 1 && r > upto)
            break;
        bmx_sbuf_puts(&keep, line);
    }
    free(line);
    fclose(f);
    bmx_err err;
    int rc = bmx_sbuf_save(&keep, path, &err);
    bmx_sbuf_free(&keep);
    return rc;
}

static int fail(const char *what, const bmx_err *err)
{
    fprintf(stderr, "bmx flad: %s%s%s\n", what, what[0] ? ": " : "", err->msg);
    return 1;
}

int flad_run(const struct flad_opts *o, struct flad_result *res)
{
    memset(res, 0, sizeof *res);
    bmx_err err = {0};
    bmx_reward reward;
    if (!o->target)
        return fprintf(stderr, "bmx flad: no target: give --target TASK\n"), 2;
    if (!o->out)
        return fprintf(stderr, "bmx flad: no run folder: give --out DIR\n"), 2;
    if (!o->tok)
        return fprintf(stderr, "bmx flad: no tokenizer: give --tok VOCAB (bmx tok train)\n"), 2;
    if (!o->resume && !!o->init == !!o->init_random)
        return fprintf(stderr, "bmx flad: give exactly one of --init CKPT (a pre-trained "
                               "checkpoint) or --init-random L,H,C,CTX\n"),
               2;
    if (bmx_reward_parse(o->reward, &reward, &err))
        return fail("--reward", &err), 2;
    if (o->rounds < 1 || o->ckpt_every < 1 || !(o->lr > 0) || o->weight_decay < 0)
        return fprintf(stderr, "bmx flad: --rounds and --ckpt-every must be >= 1, --lr > 0, "
                               "--weight-decay >= 0\n"),
               2;
    if (o->aux_draws < 1 || o->aux_draws > BMX_FLAD_MAX_DRAWS)
        return fprintf(stderr, "bmx flad: --aux-draws %d: give 1..%d auxiliary draws per round\n",
                       o->aux_draws, BMX_FLAD_MAX_DRAWS),
               2;
    if (o->min_rounds < -1)
        return fprintf(stderr,
                       "bmx flad: --min-rounds %ld: give a round >= 0, or -1 for the default "
                       "(the first round EXP3-FLAD can leave uniform)\n",
                       o->min_rounds),
               2;
    if (o->threads > 0)
        bmx_kernels_set_threads(o->threads);
    int rc = 0;
    bmx_tok *tok = NULL;
    bmx_task *target = NULL, *auxt[MAX_AUX_TASKS] = {0};
    char *names[MAX_AUX_TASKS];
    int nnames = 0, naux = 0;
    bmx_flad_aux *aux = NULL;
    bmx_model *m = NULL;
    bmx_trainer *tr = NULL, *tr0 = NULL;
    bmx_flad *f = NULL;
    void *extra = NULL;
    size_t extra_len = 0;
    bmx_sbuf cfg = {0};
    FILE *log = NULL;
    char path[4096], ckpt[4096];
    int target_only = !strncmp(o->policy, "target-only", 11);

    if (bmx_task_open(&target, o->tasks, o->target, &err))
        return fail("--target", &err), 2;
    if (bmx_tok_load(&tok, o->tok, &err)) {
        rc = fail("--tok", &err);
        goto done;
    }
    if ((rc = aux_names(o, names, &nnames)))
        goto done;
    if (!target_only && nnames == 0) {
        fprintf(stderr,
                "bmx flad: the auxiliary pool is empty after holding out %s and %s: "
                "give --aux LIST or change --holdout\n",
                o->target, o->holdout);
        rc = 2;
        goto done;
    }
    if (!target_only) {
        aux = calloc((size_t)nnames * BMX_TASK_TEMPLATES, sizeof *aux);
        for (int i = 0; i < nnames && aux; i++) {
            if (bmx_task_open(&auxt[i], o->tasks, names[i], &err)) {
                rc = fail("--aux", &err);
                goto done;
            }
            for (int k = 0; k < BMX_TASK_TEMPLATES; k++)
                aux[naux++] = (bmx_flad_aux){auxt[i], k};
        }
    }
    char *anames[MAX_AUX_TASKS * BMX_TASK_TEMPLATES];
    char anbuf[MAX_AUX_TASKS * BMX_TASK_TEMPLATES][96];
    for (int a = 0; a < naux; a++) {
        snprintf(anbuf[a], sizeof anbuf[a], "%s/%d", bmx_task_name(aux[a].task), aux[a].tmpl);
        anames[a] = anbuf[a];
    }
    /* the default minimum: from the pool's K, target-only's too (it draws from no pool, but
     * is compared with runs that do) */
    int kpool = target_only ? nnames * BMX_TASK_TEMPLATES : naux;
    double S = min_rounds_tscale(o, naux);
    long uni = bmx_mix_uniform_rounds(kpool, S);
    long min_rounds = o->min_rounds >= 0 ? o->min_rounds : kpool ? uni + 1 : 0;
    if (!strncmp(o->policy, "exp3", 4) && o->rounds <= uni)
        fprintf(stderr,
                "bmx flad: note: over K = %d auxiliary datasets with tscale %g, EXP3-FLAD is "
                "exactly uniform (draw for draw explore-only) for its first %ld rounds (S t <= "
                "K ln K); --rounds %d never gets past them: give --rounds > %ld or "
                "exp3:tscale=S\n",
                naux, S, uni, o->rounds, uni);
    config_json(o, min_rounds, (const char *const *)anames, naux, &cfg);
    mkdir(o->out, 0777);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.bin", o->out);

    bmx_train_config tc = bmx_train_config_default();
    tc.lr = tc.min_lr = o->lr;
    tc.warmup = 0;
    tc.total = 1L << 40;
    tc.weight_decay = o->weight_decay;
    tc.accum = 1;
    if (o->resume) {
        if (bmx_checkpoint_load(ckpt, o->blas, &m, &tr, &extra, &extra_len, &err)) {
            rc = fail("--resume", &err);
            goto done;
        }
        uint32_t cl = 0;
        if (extra_len >= 4)
            memcpy(&cl, extra, 4);
        if (extra_len < 4 || cl > extra_len - 4 || cl != cfg.len ||
            memcmp((char *)extra + 4, cfg.p, cl)) {
            fprintf(stderr,
                    "bmx flad: %s was written with other settings (see %s/config.json); "
                    "resume with the same options or use a new --out\n",
                    ckpt, o->out);
            rc = 2;
            goto done;
        }
    } else {
        if (o->init) {
            if (bmx_checkpoint_load(o->init, o->blas, &m, &tr0, NULL, NULL, &err)) {
                rc = fail("--init", &err);
                goto done;
            }
        } else {
            bmx_gpt_config gc = {0};
            if (sscanf(o->init_random, "%d,%d,%d,%d", &gc.layers, &gc.heads, &gc.width, &gc.ctx) !=
                4) {
                fprintf(stderr, "bmx flad: --init-random '%s': give LAYERS,HEADS,WIDTH,CTX\n",
                        o->init_random);
                rc = 2;
                goto done;
            }
            gc.vocab = (int)bmx_tok_vocab_size(tok);
            if (bmx_gpt_config_check(&gc, &err) ||
                bmx_model_create(&gc, BMX_F32, o->blas, &m, &err)) {
                rc = fail("--init-random", &err);
                goto done;
            }
            bmx_rng r;
            bmx_rng_seed(&r, o->seed, 7);
            bmx_model_init(m, &r);
        }
        if (bmx_trainer_create(m, &tc, &tr, &err)) {
            rc = fail("", &err);
            goto done;
        }
    }
    bmx_flad_config fc = bmx_flad_config_default();
    fc.policy = o->policy;
    fc.reward = reward;
    fc.params = o->params;
    fc.batch = o->batch;
    fc.T = o->T;
    fc.eval_every = o->eval_every;
    fc.patience = o->patience;
    fc.split = o->split;
    fc.seed = o->seed;
    fc.aux_draws = o->aux_draws;
    fc.min_rounds = min_rounds;
    if (bmx_flad_create(&f, &fc, tr, tok, target, aux, naux, &err)) {
        rc = fail("", &err);
        goto done;
    }
    snprintf(path, sizeof path, "%s/log.jsonl", o->out);
    if (o->resume) {
        uint32_t cl;
        memcpy(&cl, extra, 4);
        if (bmx_flad_load(f, (char *)extra + 4 + cl, extra_len - 4 - cl, &err)) {
            rc = fail(ckpt, &err);
            goto done;
        }
        truncate_log(path, bmx_flad_rounds(f));
        log = fopen(path, "a");
    } else {
        char cp[4096];
        snprintf(cp, sizeof cp, "%s/config.json", o->out);
        bmx_sbuf line = {0};
        bmx_sbuf_puts(&line, cfg.p);
        bmx_sbuf_puts(&line, "\n");
        if (bmx_sbuf_save(&line, cp, &err)) {
            bmx_sbuf_free(&line);
            rc = fail("", &err);
            goto done;
        }
        bmx_sbuf_free(&line);
        log = fopen(path, "w");
    }
    if (!log) {
        fprintf(stderr, "bmx flad: %s: cannot write: %s\n", path, strerror(errno));
        rc = 1;
        goto done;
    }
    bmx_json j = {0};
    while (!bmx_flad_stopped(f) && bmx_flad_rounds(f) < o->rounds) {
        bmx_flad_info in;
        if (bmx_flad_round(f, &in, &err)) {
            rc = fail("", &err);
            break;
        }
        bmx_json_obj(&j);
        bmx_json_kv_int(&j, "round", in.round);
        bmx_json_kv_int(&j, "arm", in.arm);
        if (in.arm >= 0)
            bmx_json_kv_str(&j, "aux", anames[in.arm]);
        bmx_json_kv_num(&j, "reward", in.reward);
        if (in.draws > 1) {
            bmx_json_key(&j, "arms");
            bmx_json_ints(&j, in.arms, (size_t)in.draws);
            bmx_json_key(&j, "rewards");
            bmx_json_nums(&j, in.rewards, (size_t)in.draws);
        }
        bmx_json_kv_num(&j, "target_loss", in.target_loss);
        bmx_json_kv_num(&j, "aux_loss", in.aux_loss);
        if (bmx_flad_mix(f)) {
            bmx_json_key(&j, "pi_uniform");
            bmx_json_bool(&j, !in.nonuniform);
            bmx_json_key(&j, "probs");
            bmx_json_nums(&j, bmx_mix_probs(bmx_flad_mix(f)), (size_t)naux);
        }
        if (in.evaluated)
            bmx_json_kv_num(&j, "val_acc", in.val_acc);
        bmx_json_kv_num(&j, "best_val", in.best_val);
        bmx_json_end_obj(&j);
        if (bmx_json_line(&j, log, path, &err)) {
            rc = fail("", &err);
            break;
        }
        if (!o->quiet && in.evaluated)
            fprintf(stderr, "round %ld: val %.3f (best %.3f at %ld)%s\n", in.round, in.val_acc,
                    in.best_val, in.best_round, in.stopped ? ", stopping early" : "");
        if (in.round % o->ckpt_every == 0 || in.stopped || in.round == o->rounds) {
            size_t sl;
            fflush(log);
            if (bmx_flad_save(f, NULL, 0, &sl, &err)) {
                rc = fail("", &err);
                break;
            }
            unsigned char *blob = malloc(4 + cfg.len + sl);
            uint32_t cl = (uint32_t)cfg.len;
            if (!blob) {
                rc = 1;
                break;
            }
            memcpy(blob, &cl, 4);
            memcpy(blob + 4, cfg.p, cfg.len);
            if (bmx_flad_save(f, blob + 4 + cfg.len, sl, &sl, &err) ||
                bmx_checkpoint_save(ckpt, tr, blob, 4 + cfg.len + sl, &err)) {
                free(blob);
                rc = fail("", &err);
                break;
            }
            free(blob);
        }
    }
    bmx_json_free(&j);
    if (rc)
        goto done;
    if (bmx_flad_finish(f, &res->test_sum, &res->test_mean, &err)) {
        rc = fail("", &err);
        goto done;
    }
    res->best_val = bmx_flad_best_val(f, &res->best_round);
    res->rounds = bmx_flad_rounds(f);
    res->stopped = bmx_flad_stopped(f);
    res->aux_batches = bmx_flad_aux_batches(f);
    res->nonuniform = bmx_flad_nonuniform_rounds(f);
    res->min_rounds = min_rounds;
    const long *cnt = bmx_flad_arm_counts(f);
    res->arm_names = calloc((size_t)naux + 1, sizeof *res->arm_names);
    res->arm_counts = calloc((size_t)naux + 1, sizeof *res->arm_counts);
    if (!res->arm_names || !res->arm_counts) {
        rc = 1;
        goto done;
    }
    res->naux = naux;
    for (int a = 0; a < naux; a++) {
        res->arm_names[a] = strdup(anames[a]);
        res->arm_counts[a] = cnt[a];
    }
    int used[MAX_AUX_TASKS * BMX_TASK_TEMPLATES] = {0};
    for (int t = 0; t < FLAD_TOP && t < naux; t++) {
        int b = -1;
        for (int a = 0; a < naux; a++)
            if (!used[a] && (b < 0 || cnt[a] > cnt[b]))
                b = a;
        if (b < 0 || cnt[b] == 0)
            break;
        used[b] = 1;
        snprintf(res->top[t], sizeof res->top[t], "%s", anames[b]);
        res->top_count[t] = cnt[b];
        res->ntop = t + 1;
    }
    {
        bmx_json r = {0};
        bmx_json_obj(&r);
        bmx_json_kv_str(&r, "target", o->target);
        bmx_json_kv_int(&r, "split", o->split);
        bmx_json_kv_str(&r, "policy", o->policy);
        bmx_json_kv_str(&r, "reward", o->reward);
        bmx_json_kv_num(&r, "test_acc", res->test_sum);
        bmx_json_kv_num(&r, "test_acc_mean_logp", res->test_mean);
        bmx_json_kv_num(&r, "best_val", res->best_val);
        bmx_json_kv_int(&r, "best_round", res->best_round);
        bmx_json_kv_int(&r, "rounds", res->rounds);
        bmx_json_key(&r, "stopped_early");
        bmx_json_bool(&r, res->stopped);
        bmx_json_kv_int(&r, "aux_batches", res->aux_batches);
        bmx_json_kv_int(&r, "aux_draws", o->aux_draws);
        bmx_json_kv_int(&r, "min_rounds", min_rounds);
        bmx_json_kv_int(&r, "nonuniform_rounds", res->nonuniform);
        bmx_json_key(&r, "arm_counts");
        bmx_json_obj(&r);
        for (int a = 0; a < naux; a++)
            bmx_json_kv_int(&r, anames[a], cnt[a]);
        bmx_json_end_obj(&r);
        bmx_json_end_obj(&r);
        snprintf(path, sizeof path, "%s/result.json", o->out);
        FILE *rf = fopen(path, "w");
        if (!rf || bmx_json_line(&r, rf, path, &err)) {
            fprintf(stderr, "bmx flad: %s: cannot write\n", path);
            rc = 1;
        }
        if (rf)
            fclose(rf);
        bmx_json_free(&r);
    }
done:
    if (log)
        fclose(log);
    bmx_flad_free(f);
    bmx_trainer_free(tr);
    bmx_trainer_free(tr0);
    bmx_model_free(m);
    free(extra);
    free(aux);
    for (int i = 0; i < nnames; i++) {
        bmx_task_free(auxt[i]);
        free(names[i]);
    }
    bmx_task_free(target);
    bmx_tok_free(tok);
    bmx_sbuf_free(&cfg);
    return rc;
}
