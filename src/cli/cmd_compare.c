/* bmx compare - several mixing methods with the same model, token budget and seeds, then one
 * report. */
#include "bmx/mix.h"
#include "cmd_run.h"
#include "dist_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_METHODS 32
#define MAX_SEEDS   32

/* Comma-separated items; an item holding '=' but no ':' continues the previous method's
 * parameters ("ado:warmup=5,interval=10" is one method), as in bmx simulate. */
static int split_list(char *s, char **out, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n > 0 && strchr(tok, '=') && !strchr(tok, ':') &&
            out[n - 1] + strlen(out[n - 1]) == tok - 1) {
            tok[-1] = ','; /* rejoin */
            continue;
        }
        if (n == max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

int cmd_compare(int argc, char **argv)
{
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    struct run_cli rcli;
    const char *config = NULL, *methods = "uniform,natural,odm,doremi", *seeds = "1",
               *title = "bmx: data mixing comparison";
    int npos = 0, rc;
    if ((rc = run_config_prescan("compare", argc, argv, &cfg, &store)))
        return rc;
    int n = run_opts_build(&rcli, &cfg);
    for (int i = 0; i < n; i++) /* policy, method, seed, reference are per run */
        if (!strcmp(rcli.names[i], "policy") || !strcmp(rcli.names[i], "method") ||
            !strcmp(rcli.names[i], "seed") || !strcmp(rcli.names[i], "reference")) {
            for (int k = i; k < n - 1; k++) {
                rcli.opts[k] = rcli.opts[k + 1];
                memcpy(rcli.names[k], rcli.names[k + 1], sizeof rcli.names[k]);
                rcli.opts[k].name = rcli.names[k];
            }
            n--;
            i--;
        }
    rcli.opts[n++] = (struct cli_opt){"config", CLI_STR, &config, "configuration file"};
    rcli.opts[n++] = (struct cli_opt){"methods", CLI_STR, &methods,
                                      "comma-separated policy specs, and/or doremi"};
    rcli.opts[n++] = (struct cli_opt){"seeds", CLI_STR, &seeds, "comma-separated seeds"};
    rcli.opts[n++] = (struct cli_opt){"title", CLI_STR, &title, "the report's title"};
    n += cli_dist_opts(&rcli.opts[n]);
    rcli.opts[n] = (struct cli_opt){0};
    const char *usage =
        "usage: bmx compare --data DIR --out DIR [--methods LIST] [--seeds LIST] [OPTIONS]\n\n"
        "Train one run per method and seed with the same model, token budget and seeds\n"
        "(OUT/<method>-s<seed>; doremi runs its reference, proxy and final stages in\n"
        "OUT/doremi-s<seed>/, reusing uniform's run of the seed as its reference), then write\n"
        "OUT/report.html. Runs already there are resumed or skipped, so an interrupted\n"
        "compare continues where it stopped.";
    rc = cli_parse(argc, argv, usage, rcli.opts, NULL, 0, &npos);
    if (rc) {
        bmx_run_strings_free(&store);
        return rc > 0 ? 0 : 2;
    }
    if ((rc = cli_dist_apply("compare", run_stop_ptr()))) {
        bmx_run_strings_free(&store);
        return rc;
    }
    char mbuf[2048], sbuf[512], *mlist[MAX_METHODS], *slist[MAX_SEEDS];
    snprintf(mbuf, sizeof mbuf, "%s", methods);
    snprintf(sbuf, sizeof sbuf, "%s", seeds);
    int nm = split_list(mbuf, mlist, MAX_METHODS), ns = split_list(sbuf, slist, MAX_SEEDS);
    if (nm <= 0 || ns <= 0) {
        bmx_run_strings_free(&store);
        return cli_fail("compare", "--methods and --seeds want 1..32 comma-separated items");
    }
    uint64_t seedv[MAX_SEEDS];
    for (int i = 0; i < ns; i++) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(slist[i], &end, 10);
        if (errno || *end || end == slist[i] || slist[i][0] == '-') {
            bmx_run_strings_free(&store);
            return cli_fail("compare", "--seeds: '%s' is not a non-negative integer", slist[i]);
        }
        seedv[i] = v;
    }
    char outdir[PATH_MAX / 2];
    snprintf(outdir, sizeof outdir, "%s", cfg.out);
    bmx_err err = {0};
    cfg.out = "x";
    cfg.policy = "uniform"; /* checked with each method below */
    if (!*outdir || bmx_run_config_check(&cfg, &err) < 0) {
        bmx_run_strings_free(&store);
        return cli_fail("compare", "%s", *outdir ? err.msg : "--out DIR is required");
    }
    /* check every policy spec, and the configuration with it, before training anything */
    for (int i = 0; i < nm; i++) {
        bmx_run_config c = cfg;
        c.policy = mlist[i];
        if (bmx_run_config_check(&c, &err) < 0) {
            bmx_run_strings_free(&store);
            return cli_fail("compare", "method '%s': %s", mlist[i], err.msg);
        }
        if (strcmp(mlist[i], "doremi") == 0)
            continue;
        bmx_mix *m = NULL;
        double w[2] = {1, 1};
        bmx_mix_data data = {w, 1, 1}; /* token counts, for max-epochs */
        if (bmx_mix_create_data(&m, mlist[i], 2, w, &data, 1, &err) < 0) {
            bmx_run_strings_free(&store);
            return cli_fail("compare", "method '%s': %s", mlist[i], err.msg);
        }
        bmx_mix_free(m);
    }
    char *text = bmx_run_config_text(&cfg);
    if (cli_rank() == 0)
        fprintf(stderr, "bmx compare: methods %s, seeds %s, configuration of every run\n%s",
                methods, seeds, text ? text : "");
    free(text);
    if (mkdir_p(outdir) != 0) {
        bmx_run_strings_free(&store);
        fprintf(stderr, "bmx compare: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    int lock = -1;
    if (cli_lock(outdir, &lock, &err) < 0) {
        bmx_run_strings_free(&store);
        fprintf(stderr, "bmx compare: %s\n", err.msg);
        return 1;
    }
    run_signals_install();
    char(*dirs)[PATH_MAX] = calloc((size_t)(nm * ns), sizeof *dirs);
    char **dp = calloc((size_t)(nm * ns), sizeof *dp);
    int nd = 0;
    rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        char uni[PATH_MAX] = "";
        for (int i = 0; i < nm && !rc; i++) {
            bmx_run_config c = cfg;
            char label[96], mname[PATH_MAX / 4];
            c.seed = seedv[s];
            snprintf(label, sizeof label, "%s s%llu", mlist[i], (unsigned long long)seedv[s]);
            snprintf(mname, sizeof mname, "%s", mlist[i]);
            for (char *q = mname; *q; q++)
                if (*q == ':' || *q == '=' || *q == ',' || *q == '/')
                    *q = '_';
            snprintf(dirs[nd], sizeof dirs[nd], "%s/%s-s%llu", outdir, mname,
                     (unsigned long long)seedv[s]);
            if (strcmp(mlist[i], "doremi") == 0) {
                char fin[PATH_MAX];
                mkdir(dirs[nd], 0777);
                rc = run_doremi("compare", &c, dirs[nd], *uni ? uni : NULL, label, fin, sizeof fin);
                snprintf(dirs[nd], sizeof dirs[nd], "%s", fin);
            } else {
                c.out = dirs[nd];
                c.policy = mlist[i];
                c.method = mlist[i];
                struct stat st;
                char p[PATH_MAX + 16];
                snprintf(p, sizeof p, "%s/config.txt", c.out);
                rc = run_one("compare", &c, stat(p, &st) == 0, label);
                if (strcmp(mlist[i], "uniform") == 0 && !*c.weights)
                    snprintf(uni, sizeof uni, "%s", dirs[nd]);
            }
            dp[nd] = dirs[nd];
            nd++;
        }
    }
    if (!rc && cli_rank() == 0) {
        char rep[PATH_MAX + 16];
        snprintf(rep, sizeof rep, "%s/report.html", outdir);
        rc = report_write("compare", dp, nd, rep, title);
    }
    free(dirs);
    free(dp);
    bmx_run_unlock(lock);
    bmx_run_strings_free(&store);
    return rc;
}
