/* bmx train - train a model with a mixing policy (bmx/run.h). Also the shared pieces of
 * the run commands: options from the configuration table, progress lines, signals. */
#include "cmd_run.h"
#include "bmx/pipeline.h"
#include "dist_cli.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t run_stop_flag;
static volatile int stop_int;

static void on_signal(int sig)
{
    run_stop_flag = sig;
    stop_int = 1;
}

void run_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

volatile const int *run_stop_ptr(void)
{
    return &stop_int;
}

/* ---- options from the configuration table ---- */

int run_opts_build(struct run_cli *rc, bmx_run_config *cfg)
{
    const bmx_run_key *k = bmx_run_keys();
    int n = 0;
    for (; k[n].name; n++)
        ;
    rc->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(rc->names[i], sizeof rc->names[i], "%s", k[i].name);
        for (char *c = rc->names[i]; *c; c++)
            if (*c == '_')
                *c = '-';
        static const enum cli_type map[] = {CLI_STR, CLI_INT, CLI_LONG, CLI_U64, CLI_DOUBLE};
        rc->opts[i].name = rc->names[i];
        rc->opts[i].type = map[k[i].type];
        rc->opts[i].ptr = (char *)cfg + k[i].offset;
        rc->opts[i].help = k[i].help;
    }
    return n;
}

int run_opts_drop(struct run_cli *rc, int n, const char *const *names)
{
    for (int i = 0; i < n; i++)
        for (const char *const *d = names; *d; d++)
            if (!strcmp(rc->names[i], *d)) {
                for (int k = i; k < n - 1; k++) {
                    rc->opts[k] = rc->opts[k + 1];
                    memcpy(rc->names[k], rc->names[k + 1], sizeof rc->names[k]);
                    rc->opts[k].name = rc->names[k];
                }
                n--;
                i--;
                break;
            }
    return n;
}

/* --config FILE anywhere in argv: load it into cfg first (flags override it). */
int run_config_prescan(const char *cmd, int argc, char **argv, bmx_run_config *cfg,
                       bmx_run_strings *store)
{
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        if (file) {
            bmx_err err = {0};
            if (bmx_run_config_load(cfg, file, store, &err) < 0) {
                fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
                return 2;
            }
        }
    }
    return 0;
}

/* ---- progress ---- */

static void fmt_time(char *b, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(b, n, "?");
    else if (s >= 3600)
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

void run_progress_print(void *ctx, const bmx_run_progress *p)
{
    struct run_progress_state *st = ctx;
    int tty = isatty(2);
    if (p->eval) {
        fprintf(stderr, "%s%s step %ld: validation mean perplexity %.3f\n", tty ? "\r\033[K" : "",
                st->label, p->step, p->avg_ppl);
        return;
    }
    /* exponential moving average of the speed for the ETA */
    st->tok_s = st->tok_s > 0 ? 0.9 * st->tok_s + 0.1 * p->tok_s : p->tok_s;
    if (!st->started) {
        st->started = 1;
        st->first = p->step;
    }
    double per_step = p->elapsed_s / (double)(p->step - st->first + 1);
    char eta[32], top[256];
    fmt_time(eta, sizeof eta, per_step * (double)(p->steps - p->step));
    size_t n = 0;
    top[0] = 0;
    for (int r = 0, prev[3] = {-1, -1, -1}; r < 3 && r < p->ndomains; r++) {
        int best = -1; /* the r-th most probable domain (ties: the lowest index) */
        for (int d = 0; d < p->ndomains; d++)
            if (d != prev[0] && d != prev[1] && (best < 0 || p->probs[d] > p->probs[best]))
                best = d;
        prev[r] = best;
        n +=
            (size_t)snprintf(top + n, sizeof top - n, " %s %.2f", p->domains[best], p->probs[best]);
    }
    if (tty) {
        fprintf(stderr, "\r\033[K%s step %ld/%ld loss %.4f %.0f tok/s ETA %s top:%s", st->label,
                p->step, p->steps, p->loss, st->tok_s, eta, top);
        if (p->step == p->steps)
            fputc('\n', stderr);
    } else {
        long every = p->steps / 20 > 0 ? p->steps / 20 : 1;
        if (p->step % every == 0 || p->step == p->steps || p->step == 1)
            fprintf(stderr, "%s step %ld/%ld loss %.4f %.0f tok/s ETA %s top:%s\n", st->label,
                    p->step, p->steps, p->loss, st->tok_s, eta, top);
    }
}

static void log_fn(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_INFO && cli_rank() == 0)
        fprintf(stderr, "bmx: %s\n", msg);
}

/* Run one training run with progress and signals; prints errors. Exit status. */
int run_one(const char *cmd, const bmx_run_config *cfg, int resume, const char *label)
{
    bmx_err err = {0};
    struct run_progress_state st = {0};
    snprintf(st.label, sizeof st.label, "%s", label ? label : "");
    bmx_run_opts o = {0};
    bmx_run_config c = *cfg;
    c.threads = cli_dist_threads(c.threads);
    o.resume = cli_dist_same_flag(resume); /* rank 0 decides (the folder changes under us) */
    o.dist = cli_dist();
    o.stop = run_stop_ptr();
    o.progress = run_progress_print;
    o.progress_ctx = &st;
    o.log.fn = log_fn;
    int rc = bmx_run_train(&c, &o, &err);
    if (rc == 1) {
        if (cli_rank() != 0)
            return 128 + (run_stop_flag ? (int)run_stop_flag : SIGINT);
        fprintf(stderr,
                "\nbmx %s: stopped by signal at a step boundary; checkpoint written. Continue "
                "with: bmx train --resume --out %s\n",
                cmd, cfg->out);
        return 128 + (run_stop_flag ? (int)run_stop_flag : SIGINT);
    }
    if (rc < 0) {
        /* an error every rank stopped with is printed once, by rank 0 */
        if (cli_rank() == 0 || !bmx_dist_failed_together(cli_dist()))
            fprintf(stderr, "%sbmx %s: %s\n", isatty(2) ? "\n" : "", cmd, err.msg);
        return 1;
    }
    return 0;
}

static int pipeline_train(void *ctx, const bmx_run_config *c, int resume, const char *label,
                          bmx_err *err)
{
    return run_one(*(const char **)ctx, c, resume, label);
}

static void pipeline_log(void *ctx, int level, const char *msg)
{
    if (level >= BMX_LOG_INFO && cli_rank() == 0)
        fprintf(stderr, "bmx %s: %s\n", *(const char **)ctx, msg);
}

void run_pipeline_opts(const char **cmd, bmx_pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    o->run.dist = cli_dist();
    o->run.log = (bmx_logger){pipeline_log, cmd};
    o->train = pipeline_train;
    o->ctx = cmd;
}

int run_pipeline_status(const char *cmd, int rc, const bmx_err *err)
{
    if (rc >= 0)
        return rc;
    fprintf(stderr, "bmx %s: %s\n", cmd, err->msg);
    return 1;
}

static const char train_usage[] =
    "usage: bmx train --data DIR --out RUN [--policy SPEC] [--config FILE] [OPTIONS]\n"
    "       bmx train --resume --out RUN [--steps N]\n\n"
    "Train a GPT-2 style model on a sharded multi-domain corpus, each micro-batch from\n"
    "the domain the mixing policy draws; validate every domain on fixed windows; write\n"
    "RUN/config.txt, RUN/log.jsonl, RUN/timing.jsonl and RUN/checkpoint.bin. Ctrl-C\n"
    "(SIGINT) or SIGTERM writes a checkpoint and stops; --resume continues exactly.\n"
    "Configuration keys are the options below without '--' ('-' or '_' alike).";

/* --resume: print the run's stored configuration; only steps (when given) and threads may
 * change. 0 or an exit status. */
static int resume_prepare(int argc, char **argv, bmx_run_config *cfg)
{
    char path[4200];
    FILE *f = NULL; /* not a regular file: the run's own load says so */
    int steps_given = 0;

    if (!*cfg->out)
        return cli_fail("train", "--resume needs --out RUN, the run folder to continue");
    snprintf(path, sizeof path, "%s/config.txt", cfg->out);
    if (cli_rank() == 0 && bmx_file_fopen_regular(path, &f, NULL) == 0) {
        char line[1024];
        fprintf(stderr, "bmx train: resuming %s with its configuration\n", cfg->out);
        while (fgets(line, sizeof line, f))
            fputs(line, stderr);
        fclose(f);
    }
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--steps", 7) == 0)
            steps_given = 1;
    if (!steps_given)
        cfg->steps = 0;
    return 0;
}

static int train(int argc, char **argv, bmx_run_config *cfg)
{
    struct run_cli rcli;
    const char *config = NULL;
    int resume = 0, npos = 0, rc, n = run_opts_build(&rcli, cfg);
    bmx_err err = {0};

    rcli.opts[n++] = (struct cli_opt){"config", CLI_STR, &config,
                                      "configuration file of 'key = value' lines (flags win)"};
    rcli.opts[n++] = (struct cli_opt){"resume", CLI_FLAG, &resume,
                                      "continue the run in --out from its checkpoint (its "
                                      "config.txt holds; --steps and --threads may change)"};
    n += cli_dist_opts(&rcli.opts[n]);
    rcli.opts[n] = (struct cli_opt){0};
    if ((rc = cli_parse(argc, argv, train_usage, rcli.opts, NULL, 0, &npos)))
        return rc > 0 ? 0 : 2;
    if ((rc = cli_dist_apply("train", run_stop_ptr())))
        return rc;
    if (resume && (rc = resume_prepare(argc, argv, cfg)))
        return rc;
    if (!resume && bmx_run_config_check(cfg, &err) < 0)
        return cli_fail("train", "%s", err.msg);
    if (!resume) {
        char *text = bmx_run_config_text(cfg);
        if (cli_rank() == 0)
            fprintf(stderr, "bmx train: configuration\n%s", text ? text : "");
        free(text);
    }
    run_signals_install();
    rc = run_one("train", cfg, resume, "");
    if (rc == 0 && cli_rank() == 0)
        fprintf(stderr, "bmx train: done; log %s/log.jsonl, model %s/checkpoint.bin\n", cfg->out,
                cfg->out);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    int rc;

    if (!(rc = run_config_prescan("train", argc, argv, &cfg, &store)))
        rc = train(argc, argv, &cfg);
    bmx_run_strings_free(&store);
    return rc;
}
