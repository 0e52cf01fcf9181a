/* The pieces of the run commands (cmd_run.h): options from a configuration table, signals,
 * progress lines, one run, a pipeline's callbacks. */
#include "cmd_run.h"
#include "bmx/pipeline.h"
#include "dist_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_CLI_MAX 96

static volatile sig_atomic_t run_stop_flag;
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

int run_stopped_status(void)
{
    return 128 + (run_stop_flag ? (int)run_stop_flag : SIGINT);
}

/* ---- options ---- */

int run_cli_parse(const struct run_cmd *c, void *cfg, bmx_run_strings *store, int argc, char **argv)
{
    struct cli_opt opts[RUN_CLI_MAX];
    char names[RUN_CLI_MAX][32];
    bmx_err err = {0};
    int n = 0, rc = 0;

    if (bmx_config_load_args(c->keys, cfg, argc, argv, c->resume_config, store, &err) < 0)
        rc = cli_fail(c->name, "%s", err.msg);

    for (const bmx_run_key *k = c->keys; !rc && k->name && n < RUN_CLI_MAX - 16; k++) {
        int skip = 0;
        for (const char *const *d = c->drop; d && *d; d++)
            skip |= !strcmp(*d, k->name);
        if (skip)
            continue;
        snprintf(names[n], sizeof names[n], "%s", k->name);
        for (char *p = names[n]; *p; p++)
            *p = *p == '_' ? '-' : *p;
        opts[n] =
            (struct cli_opt){names[n], (enum cli_type)k->type, (char *)cfg + k->offset, k->help};
        n++;
    }
    for (const struct cli_opt *e = c->extra; e && e->name && n < RUN_CLI_MAX - 4; e++)
        opts[n++] = *e;
    n += c->dist ? cli_dist_opts(&opts[n]) : 0;
    opts[n] = (struct cli_opt){0};
    if (rc || (rc = cli_parse(argc, argv, c->usage, opts, 0)) < 0)
        return rc > 0 ? -1 - rc : rc;
    if (c->dist && (rc = cli_dist_apply(c->name, run_stop_ptr())))
        return -1 - rc;
    return 0;
}

void run_config_print(const char *cmd, const char *head, const bmx_run_key *keys, const void *cfg)
{
    char *text = bmx_config_text(keys, cfg);
    if (cli_rank() == 0)
        fprintf(stderr, "bmx %s: %s\n%s", cmd, head, text ? text : "");
    free(text);
}

/* ---- progress ---- */

struct progress {
    char label[64];
    double tok_s;
    int started;
    long first;
};

static void progress_print(void *ctx, const bmx_run_progress *p)
{
    struct progress *st = ctx;
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
    bmx_fmt_duration(eta, sizeof eta, per_step * (double)(p->steps - p->step));
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
    long every = p->steps / 20 > 0 ? p->steps / 20 : 1;
    if (tty || p->step % every == 0 || p->step == p->steps || p->step == 1)
        fprintf(stderr, "%s%s step %ld/%ld loss %.4f %.0f tok/s ETA %s top:%s%s",
                tty ? "\r\033[K" : "", st->label, p->step, p->steps, p->loss, st->tok_s, eta, top,
                !tty || p->step == p->steps ? "\n" : "");
}

static void log_fn(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_INFO && cli_rank() == 0)
        fprintf(stderr, "bmx: %s\n", msg);
}

int run_one(const char *cmd, const bmx_run_config *cfg, int resume, const char *label)
{
    bmx_err err = {0};
    struct progress st = {0};
    snprintf(st.label, sizeof st.label, "%s", label ? label : "");
    bmx_run_opts o = {0};
    bmx_run_config c = *cfg;
    c.threads = cli_dist_threads(c.threads);
    o.resume = cli_dist_same_flag(resume); /* rank 0 decides (the folder changes under us) */
    o.dist = cli_dist();
    o.stop = run_stop_ptr();
    o.progress = progress_print;
    o.progress_ctx = &st;
    o.log.fn = log_fn;
    int rc = bmx_run_train(&c, &o, &err);
    if (rc == 1 && cli_rank() == 0)
        fprintf(stderr,
                "\nbmx %s: stopped by signal at a step boundary; checkpoint written. Continue "
                "with: bmx train --resume --out %s\n",
                cmd, cfg->out);
    if (rc == 1)
        return run_stopped_status();
    /* an error every rank stopped with is printed once, by rank 0 */
    if (rc < 0 && (cli_rank() == 0 || !bmx_dist_failed_together(cli_dist())))
        fprintf(stderr, "%sbmx %s: %s\n", isatty(2) ? "\n" : "", cmd, err.msg);
    return rc < 0 ? 1 : 0;
}

/* ---- pipelines (bmx/pipeline.h) ---- */

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
    run_signals_install();
}

int run_pipeline_status(const char *cmd, int rc, const bmx_err *err)
{
    return rc >= 0 ? rc : cli_error(cmd, err);
}
