/* bmx simulate - several mixing policies side by side on a synthetic environment: parses the
 * options, runs the library's simulate runner (bmx/sim.h: bmx_sim_run_*) and prints its table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/mix.h"
#include "bmx/report.h"
#include "bmx/sim.h"
#include "cli.h"

#define CMD "simulate"

/* The options that are not the runner's configuration. */
typedef struct opts {
    const char *env, *noise, *weights;
    long max_mb;
} opts;

static void progress(void *ctx, const char *label, uint64_t seed, long t, long rounds)
{
    double *last = ctx;
    if (bmx_now_s() - *last > 0.25) {
        *last = bmx_now_s();
        fprintf(stderr, "\r  %-24s seed %llu  round %ld/%ld ", label, (unsigned long long)seed, t,
                rounds);
    }
}

/* The table of final metrics on stdout. */
static void print_table(const char *env, const bmx_sim_run_config *o, const bmx_sim_run *r,
                        double seconds, double est)
{
    bmx_sbuf t = {0};

    printf("bmx simulate: %s, %d arms, %ld rounds x %d batches, seed %llu", env, o->env.arms,
           o->rounds, o->batches, (unsigned long long)o->env.seed);
    if (o->seeds > 1)
        printf(" (+%d more)", o->seeds - 1);
    bmx_report_sim_table(r, &t);
    printf(", %.2f s\n\n%s", seconds, bmx_sbuf_str(&t));
    bmx_sbuf_free(&t);
    printf("\nwrote %s/: index.html (open it), summary.json, metric.svg, probs-*.svg, one "
           "*.jsonl log per policy%s (about %.3g MB of logs estimated)\n",
           o->out, o->seeds > 1 ? " and seed" : "", est / 1e6);
}

/* Run and report; 0 or 1 (printed). */
static int run(const char *env, const bmx_sim_run_config *o, bmx_sim_run *r, double est, double t0)
{
    bmx_err err = {0};
    double last = bmx_now_s();
    int tty = isatty(2), rc = bmx_file_mkdir_p(o->out, &err);

    if (rc != BMX_OK) {
        fprintf(stderr, "bmx simulate: %s (check --out)\n", err.msg);
        return 1;
    }
    rc = bmx_sim_run_exec(r, tty ? progress : NULL, &last, &err);
    if (rc == BMX_OK && tty)
        fprintf(stderr, "\r%60s\r", "");
    if (rc != BMX_OK || bmx_report_sim(r, &err) != BMX_OK)
        return cli_error("simulate", &err);
    print_table(env, o, r, bmx_now_s() - t0, est);
    return 0;
}

static const char usage[] =
    "usage: bmx simulate [OPTIONS]\n\n"
    "Run mixing policies side by side on a synthetic environment and write, under --out,\n"
    "one JSONL log per policy (every round: the distribution, the arms drawn, the\n"
    "observations given), summary.json, metric.svg (cumulative regret for the bandit\n"
    "environments, mean loss over domains for learnable), probs-POLICY.svg (the\n"
    "distribution over time of each adaptive policy) and index.html.\n\n"
    "environments: bernoulli, gaussian, drifting (bandits: rewards in [0, 1], loss = 1 -\n"
    "reward) and learnable (domains whose loss decays with the number of batches drawn:\n"
    "floor + (start - floor) exp(-n / tau), tau spread from --tau-min to --tau-max).\n"
    "policies: uniform natural weights odm odm-smoothed-mean exp3 ucb1 explore-only\n"
    "exploit-only doremi, or all; parameters as NAME:KEY=VALUE,KEY=VALUE, e.g.\n"
    "--policies odm:alpha=0.8,exp3:tscale=10,doremi:eta=0.5,c=0.01. Keys: odm alpha,\n"
    "tscale; odm-smoothed-mean alpha, warmup; exp3 beta, tscale; ucb1 beta; doremi eta,\n"
    "c, vocab (bmx/mix.h; tscale S computes eps at S t: 1 is the papers' form).\n"
    "odm* observe losses, exp3/ucb1/exploit-only rewards (learnable: the loss), doremi\n"
    "excess losses (loss - floor; bandits: loss - (1 - best mean)), static ones the loss.\n\n"
    "With no options: every policy on the learnable environment, 22 arms, out runs/simulate.";

int cmd_simulate(int argc, char **argv)
{
    opts o = {"learnable", "auto", NULL, 1024};
    bmx_sim_run_config c = {.policies = "all",
                            .rounds = 2000,
                            .batches = 8,
                            .seeds = 1,
                            .top = 12,
                            .out = "runs/simulate"};
    bmx_sim_config *e = &c.env;
    const struct cli_opt table[] = {
        {"env", CLI_STR, &o.env, "bernoulli, gaussian, drifting or learnable"},
        {"policies", CLI_STR, &c.policies, "comma-separated policy specs, or all"},
        {"arms", CLI_INT, &e->arms, "number of arms K"},
        {"rounds", CLI_LONG, &c.rounds, "rounds (policy steps)"},
        {"batches", CLI_INT, &c.batches, "draws per round G"},
        {"seed", CLI_U64, &e->seed, "first seed (environment and policies)"},
        {"seeds", CLI_INT, &c.seeds, "number of seeds: seed, seed+1, ..."},
        {"out", CLI_STR, &c.out, "output directory (created)"},
        {"noise", CLI_STR, &o.noise, "noise sd: gaussian reward (0.1), learnable loss (0.02)"},
        {"period", CLI_DOUBLE, &e->period, "drifting: base period of the means in rounds"},
        {"tau-min", CLI_DOUBLE, &e->tau_min, "learnable: fastest domain's time constant (pulls)"},
        {"tau-max", CLI_DOUBLE, &e->tau_max, "learnable: slowest domain's time constant (pulls)"},
        {"weights", CLI_STR, &o.weights, "K comma-separated weights for the weights policy"},
        {"top", CLI_INT, &c.top, "arms shown on their own in the distribution plots"},
        {"max-output-mb", CLI_LONG, &o.max_mb,
         "refuse a run whose logs would take more MB than this (0 = no bound)"},
        {0},
    };
    bmx_sim_run *r = NULL;
    bmx_sbuf cmdline = {0};
    bmx_err err = {0};
    double *weights = NULL, t0 = bmx_now_s();
    int rc;

    bmx_sim_config_init(e, BMX_SIM_LEARNABLE, 22, 1);
    if ((rc = cli_parse(argc, argv, usage, table, 0)) < 0)
        return -1 - rc;
    if (bmx_sim_run_setup(&c, o.env, o.noise, o.max_mb, &err) != BMX_OK)
        return cli_fail(CMD, "%s", err.msg);
    if (o.weights && bmx_sim_parse_weights(o.weights, e->arms, &weights, &err) != BMX_OK)
        return cli_fail(CMD, "%s", err.msg);
    for (int i = 0; i < argc; i++) {
        bmx_sbuf_puts(&cmdline, i ? " " : "bmx ");
        bmx_sbuf_puts(&cmdline, argv[i]);
    }
    c.weights = weights;
    c.command = bmx_sbuf_str(&cmdline);
    if (bmx_sim_run_create(&r, &c, &err) != BMX_OK)
        rc = cli_fail(CMD, "%s", err.msg);
    else if (bmx_sim_run_check_size(r, o.max_mb, &err) != BMX_OK)
        rc = cli_fail(CMD, "%s", err.msg);
    else
        rc = run(o.env, &c, r, bmx_sim_run_log_bytes(r), t0);
    bmx_sim_run_free(r);
    free(weights);
    bmx_sbuf_free(&cmdline);
    return rc;
}
