/* The simulate runner of bmx/sim.h called from C: the files it writes are byte for byte those
 * of `bmx simulate` with the same options, its metric matches the learnable formula, and its
 * errors name the bad policy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/mix.h"
#include "bmx/report.h"
#include "bmx/sim.h"
#include "check.h"
#include "helpers.h"

/* Every file name in list (space-separated) is the same in both folders. */
static void check_same_files(const char *a, const char *b, const char *list)
{
    char names[2048], *save = NULL;

    snprintf(names, sizeof names, "%s", list);
    for (char *f = strtok_r(names, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
        char pa[1100], pb[1100];
        size_t na, nb;
        snprintf(pa, sizeof pa, "%s/%s", a, f);
        snprintf(pb, sizeof pb, "%s/%s", b, f);
        char *x = slurp(pa, &na), *y = slurp(pb, &nb);
        CHECK_MSG(x && y, "missing %.200s or %.200s", pa, pb);
        CHECK_MSG(na == nb && memcmp(x, y, na) == 0, "%.200s and %.200s differ", pa, pb);
        free(x);
        free(y);
    }
}

/* Run the library on the options of args (out = dir/s) and the program in dir2 (out = s). */
static void same_as_cli(const char *tag, bmx_sim_run_config *c, const char *args, const char *files)
{
    const char *build = getenv("BMX_BUILD");
    char bin[512], lib[512], cli[512], cmd[2048], command[1024];
    bmx_sim_run *r = NULL;
    bmx_err err = {0};
    struct stat st;

    if (!build)
        SKIP("BMX_BUILD is not set (tests/run.sh sets it)");
    snprintf(bin, sizeof bin, "%s/bmx", build);
    if (stat(bin, &st) != 0)
        SKIP("%s is not built", bin);
    snprintf(lib, sizeof lib, "%s/%s-lib", check_tmpdir("simrun"), tag);
    snprintf(cli, sizeof cli, "%s/%s-cli", check_tmpdir("simrun"), tag);
    CHECK(mkdir(lib, 0777) == 0 && mkdir(cli, 0777) == 0);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' simulate %s --out s >/dev/null 2>&1", cli, bin,
             args);
    CHECK_MSG(system(cmd) == 0, "%.400s failed", cmd);
    snprintf(command, sizeof command, "bmx simulate %s --out s", args);
    snprintf(lib + strlen(lib), sizeof lib - strlen(lib), "/s");
    c->out = lib;
    c->command = command;
    CHECK_MSG(bmx_sim_run_create(&r, c, &err) == BMX_OK, "create: %s", err.msg);
    CHECK_MSG(bmx_sim_run_exec(r, NULL, NULL, &err) == BMX_OK, "exec: %s", err.msg);
    CHECK_MSG(bmx_report_sim(r, &err) == BMX_OK, "report: %s", err.msg);
    bmx_sim_run_free(r);
    snprintf(cli + strlen(cli), sizeof cli - strlen(cli), "/s");
    check_same_files(lib, cli, files);
}

static void test_same_as_cli_learnable(void)
{
    static const double w[4] = {1, 2, 0, 3};
    bmx_sim_run_config c = {.policies = "odm:alpha=0.8,exp3,doremi,aioli,weights,natural",
                            .weights = w,
                            .rounds = 120,
                            .batches = 3,
                            .seeds = 2,
                            .top = 12};

    bmx_sim_config_init(&c.env, BMX_SIM_LEARNABLE, 4, 5);
    same_as_cli("learnable", &c,
                "--env learnable --arms 4 --seed 5 --rounds 120 --batches 3 --seeds 2 "
                "--policies odm:alpha=0.8,exp3,doremi,aioli,weights,natural --weights 1,2,0,3",
                "summary.json index.html metric.svg probs-odm-alpha0.8.svg probs-doremi.svg "
                "odm-alpha0.8.seed5.jsonl odm-alpha0.8.seed6.jsonl exp3.seed5.jsonl "
                "doremi.seed6.jsonl aioli.seed5.jsonl weights.seed6.jsonl natural.seed5.jsonl");
}

static void test_same_as_cli_bandit(void)
{
    bmx_sim_run_config c = {.policies = "all", .rounds = 150, .batches = 2, .seeds = 1, .top = 3};

    bmx_sim_config_init(&c.env, BMX_SIM_DRIFTING, 5, 11);
    c.env.period = 40;
    same_as_cli("drifting", &c,
                "--env drifting --arms 5 --seed 11 --rounds 150 --batches 2 --top 3 --period 40",
                "summary.json index.html metric.svg probs-ucb1.svg uniform.jsonl ucb1.jsonl "
                "exploit-only.jsonl doremi.jsonl exp3.jsonl");
}

/* One learnable arm without noise: after round t the arm has been pulled t G times, so the
 * mean loss is floor + (start - floor) exp(-t G / tau), whatever the policy. */
static void test_learnable_formula(void)
{
    bmx_sim_run_config c = {.policies = "uniform,odm,exp3",
                            .rounds = 25,
                            .batches = 3,
                            .seeds = 1,
                            .top = 1,
                            .command = ""};
    bmx_sim_run *r = NULL;
    bmx_sim *env = NULL;
    bmx_err err = {0};
    char out[256];

    bmx_sim_config_init(&c.env, BMX_SIM_LEARNABLE, 1, 9);
    c.env.noise = 0;
    snprintf(out, sizeof out, "%s/formula/deeper", check_tmpdir("simrun"));
    c.out = out;
    CHECK(bmx_sim_create(&env, &c.env, &err) == BMX_OK);
    double fl = bmx_sim_floors(env)[0], st = bmx_sim_starts(env)[0], tau = bmx_sim_taus(env)[0];
    bmx_sim_free(env);
    CHECK_MSG(bmx_sim_run_create(&r, &c, &err) == BMX_OK, "create: %s", err.msg);
    CHECK_EQ_INT(bmx_sim_run_npolicies(r), 3);
    CHECK_MSG(bmx_sim_run_exec(r, NULL, NULL, &err) == BMX_OK, "exec: %s", err.msg);
    for (int i = 0; i < 3; i++) {
        const bmx_sim_policy *p = bmx_sim_run_policy(r, i);
        for (long t = 1; t <= c.rounds; t++)
            CHECK_NEAR(p->curve[t - 1], fl + (st - fl) * exp(-(double)(t * 3) / tau), 1e-12);
        CHECK(p->final[0] == p->curve[c.rounds - 1]);
    }
    CHECK_EQ_INT(bmx_sim_run_policy(r, 0)->observes, BMX_MIX_OBS_NONE);
    CHECK_EQ_INT(bmx_sim_run_policy(r, 1)->observes, BMX_MIX_OBS_LOSS);
    CHECK_EQ_INT(bmx_sim_run_policy(r, 2)->observes, BMX_MIX_OBS_REWARD);
    CHECK_EQ_STR(bmx_sim_observes_name(BMX_MIX_OBS_NONE), "loss (checked, ignored)");
    /* the printed table: a header, then one row per policy with its final loss (one seed: no
     * sd column), the columns as wide as the longest spec */
    {
        bmx_sbuf t = {0}, want = {0};
        int wp = 6;
        for (int i = 0; i < 3; i++)
            if ((int)strlen(bmx_sim_run_policy(r, i)->canon) > wp)
                wp = (int)strlen(bmx_sim_run_policy(r, i)->canon);
        bmx_sbuf_printf(&want, "  %-*s  %-24s %16s\n", wp, "policy", "observes", "final mean loss");
        for (int i = 0; i < 3; i++) {
            const bmx_sim_policy *p = bmx_sim_run_policy(r, i);
            bmx_sbuf_printf(&want, "  %-*s  %-24s %16.6g\n", wp, p->canon,
                            i == 0   ? "loss (checked, ignored)"
                            : i == 1 ? "loss"
                                     : "reward",
                            fl + (st - fl) * exp(-75.0 / tau));
        }
        bmx_report_sim_table(r, &t);
        CHECK_EQ_STR(bmx_sbuf_str(&t), bmx_sbuf_str(&want));
        bmx_sbuf_free(&t);
        bmx_sbuf_free(&want);
    }
    bmx_sim_run_free(r);
}

static void test_errors(void)
{
    bmx_sim_run_config c = {.rounds = 10, .batches = 1, .seeds = 1, .top = 1, .out = "unused"};
    bmx_sim_run *r = (bmx_sim_run *)1;
    bmx_err err = {0};

    bmx_sim_config_init(&c.env, BMX_SIM_BERNOULLI, 3, 1);
    c.policies = "alpha=0.5";
    CHECK_EQ_INT(bmx_sim_run_create(&r, &c, &err), BMX_EINVAL);
    CHECK(r == NULL);
    CHECK_CONTAINS(err.msg, "'alpha=0.5' is a parameter without a policy");
    c.policies = "odm,weights";
    CHECK_EQ_INT(bmx_sim_run_create(&r, &c, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "policy 'weights' needs --weights with 3");
    c.policies = "odmx";
    CHECK(bmx_sim_run_create(&r, &c, &err) < 0);
    CHECK_CONTAINS(err.msg, "odmx");
    CHECK_CONTAINS(err.msg, "parameters as NAME:KEY=VALUE");
    c.policies = "odm";
    c.rounds = 0;
    CHECK_EQ_INT(bmx_sim_run_create(&r, &c, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "--rounds 0");
    c.rounds = 10;
    c.policies = ",";
    CHECK_EQ_INT(bmx_sim_run_create(&r, &c, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "--policies is empty");
}

static void test_weights(void)
{
    double *w = NULL;
    bmx_err err = {0};

    CHECK(bmx_sim_parse_weights("1,2.5,0", 3, &w, &err) == BMX_OK);
    CHECK(w && w[0] == 1 && w[1] == 2.5 && w[2] == 0);
    free(w);
    CHECK_EQ_INT(bmx_sim_parse_weights("1,2", 3, &w, &err), BMX_EINVAL);
    CHECK(w == NULL);
    CHECK_CONTAINS(err.msg, "--weights has 2 values but --arms is 3");
    CHECK_EQ_INT(bmx_sim_parse_weights("1,-1,2", 3, &w, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "'-1' is not a finite number >= 0");
    CHECK_EQ_INT(bmx_sim_parse_weights("1,inf,2", 3, &w, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "'inf'");
}

static void test_labels(void)
{
    bmx_sim_run_config c = {.policies = "odm:alpha=0.8,odm:alpha=0.8,exp3:beta=0.5,tscale=2",
                            .rounds = 1,
                            .batches = 1,
                            .seeds = 3,
                            .top = 1,
                            .out = "unused"};
    bmx_sim_run *r = NULL;
    bmx_err err = {0};
    char name[128];

    bmx_sim_config_init(&c.env, BMX_SIM_GAUSSIAN, 2, 40);
    CHECK_MSG(bmx_sim_run_create(&r, &c, &err) == BMX_OK, "create: %s", err.msg);
    CHECK_EQ_INT(bmx_sim_run_npolicies(r), 3);
    CHECK_EQ_STR(bmx_sim_run_policy(r, 0)->label, "odm-alpha0.8");
    CHECK_EQ_STR(bmx_sim_run_policy(r, 1)->label, "odm-alpha0.8-2");
    CHECK_EQ_STR(bmx_sim_run_policy(r, 2)->spec, "exp3:beta=0.5,tscale=2");
    CHECK_EQ_STR(bmx_sim_run_policy(r, 2)->label, "exp3-beta0.5-tscale2");
    bmx_sim_run_log_name(r, 1, 2, name, sizeof name);
    CHECK_EQ_STR(name, "odm-alpha0.8-2.seed42.jsonl");
    bmx_sim_run_free(r);
}

/* bmx simulate's environment options: the default noise per environment, a given one, and
 * each refusal naming its option. */
static void test_setup(void)
{
    bmx_sim_run_config c = {0};
    bmx_err err = {0};

    bmx_sim_config_init(&c.env, BMX_SIM_LEARNABLE, 5, 7);
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "gaussian", "auto", 0, &err), BMX_OK);
    CHECK_EQ_INT(c.env.env, BMX_SIM_GAUSSIAN);
    CHECK_NEAR(c.env.noise, 0.1, 1e-15);
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "auto", 1, &err), BMX_OK);
    CHECK_NEAR(c.env.noise, 0.02, 1e-15);
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "0.5", 1, &err), BMX_OK);
    CHECK_NEAR(c.env.noise, 0.5, 1e-15);
    CHECK_EQ_INT(c.env.arms, 5);
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "nope", "auto", 0, &err), BMX_EINVAL);
    CHECK(strncmp(err.msg, "--env: ", 7) == 0);
    CHECK_CONTAINS(err.msg, "nope");
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "-1", 0, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--noise wants a finite number >= 0 (or auto), got '-1'");
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "loud", 0, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--noise wants a finite number >= 0 (or auto), got 'loud'");
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "auto", -1, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--max-output-mb -1: give a bound in MB, or 0 for none");
    c.env.tau_min = 0;
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "auto", 0, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "(see --period, --tau-min, --tau-max, --noise)");
    c.env.arms = 0;
    CHECK_EQ_INT(bmx_sim_run_setup(&c, "learnable", "auto", 0, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "--arms 0 is out of range; use 1 to");
}

/* The --max-output-mb check: the estimate against the bound, and a message with its factors. */
static void test_check_size(void)
{
    bmx_sim_run_config c = {.policies = "odm,exp3",
                            .rounds = 1000,
                            .batches = 2,
                            .seeds = 3,
                            .top = 1,
                            .out = "unused"};
    bmx_sim_run *r = NULL;
    bmx_err err = {0};
    char want[200];

    bmx_sim_config_init(&c.env, BMX_SIM_BERNOULLI, 4, 1);
    CHECK_MSG(bmx_sim_run_create(&r, &c, &err) == BMX_OK, "%s", err.msg);
    double est = bmx_sim_run_log_bytes(r);
    long over = (long)(est / 1e6) + 1, under = (long)(est / 1e6);
    CHECK(under >= 0 && est > (double)under * 1e6);
    CHECK_EQ_INT(bmx_sim_run_check_size(r, 0, &err), BMX_OK);
    CHECK_EQ_INT(bmx_sim_run_check_size(r, over, &err), BMX_OK);
    CHECK(under > 0);
    {
        CHECK_EQ_INT(bmx_sim_run_check_size(r, under, &err), BMX_EINVAL);
        snprintf(want, sizeof want, "about %.0f MB (2 policies x 3 seeds x 1000 rounds of 4 arms",
                 est / 1e6);
        CHECK_CONTAINS(err.msg, want);
        snprintf(want, sizeof want, "over --max-output-mb %ld", under);
        CHECK_CONTAINS(err.msg, want);
        snprintf(want, sizeof want, "(--max-output-mb %.0f)", est / 1e6 + 1);
        CHECK_CONTAINS(err.msg, want);
    }
    bmx_sim_run_free(r);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"same_as_cli_learnable", test_same_as_cli_learnable},
        {"same_as_cli_bandit", test_same_as_cli_bandit},
        {"learnable_formula", test_learnable_formula},
        {"errors", test_errors},
        {"weights", test_weights},
        {"labels", test_labels},
        {"check_size", test_check_size},
        {"setup", test_setup},
        {0},
    };
    return check_main(argc, argv, cases);
}
