/* bmx doremi - DoReMi as a baseline: reference run on the baseline weights, proxy run with the
 * DoReMi updater, averaged weights, final run on them (ALGORITHMS.md section 3). */
#include "bmx/mix.h"
#include "cmd_run.h"
#include "dist_cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int exists(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* Train (or resume, or skip when done) one run. */
static int train_or_resume(const char *cmd, bmx_run_config *c, const char *label)
{
    int resume = exists(c->out, "config.txt");
    return run_one(cmd, c, resume, label);
}

static int doremi_stages(const char *cmd, const bmx_run_config *base, const char *dir,
                         const char *reference, const char *label, char *final_dir,
                         size_t final_cap);

/* The stages with dir locked for this process (its runs lock their own folders). */
int run_doremi(const char *cmd, const bmx_run_config *base, const char *dir, const char *reference,
               const char *label, char *final_dir, size_t final_cap)
{
    bmx_err err = {0};
    int lock = -1;
    snprintf(final_dir, final_cap, "%s/final", dir);
    if (cli_lock(dir, &lock, &err) < 0) {
        fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
        return 1;
    }
    int rc = doremi_stages(cmd, base, dir, reference, label, final_dir, final_cap);
    bmx_run_unlock(lock);
    return rc;
}

static int doremi_stages(const char *cmd, const bmx_run_config *base, const char *dir,
                         const char *reference, const char *label, char *final_dir,
                         size_t final_cap)
{
    char ref[PATH_MAX], proxy[PATH_MAX], wpath[PATH_MAX + 16], lab[96];
    int rc;
    bmx_err err = {0};
    snprintf(ref, sizeof ref, "%s/reference", dir);
    snprintf(proxy, sizeof proxy, "%s/proxy", dir);
    snprintf(final_dir, final_cap, "%s/final", dir);
    if (!reference) {
        bmx_run_config r = *base;
        r.out = ref;
        r.method = "doremi-reference";
        if (!*r.weights)
            r.policy = "uniform";
        else
            r.policy = "weights";
        snprintf(lab, sizeof lab, "%s reference", label);
        if ((rc = train_or_resume(cmd, &r, lab)))
            return rc;
        reference = ref;
    }
    bmx_run_config p = *base;
    p.out = proxy;
    p.policy = "doremi";
    p.method = "doremi-proxy";
    p.reference = reference;
    snprintf(lab, sizeof lab, "%s proxy", label);
    if ((rc = train_or_resume(cmd, &p, lab)))
        return rc;
    bmx_mix *m = NULL;
    if (bmx_run_policy_load(proxy, &m, &err) < 0) {
        fprintf(stderr, "bmx %s: %s\n", cmd, err.msg);
        return 1;
    }
    const double *abar = bmx_mix_average(m);
    int K = bmx_mix_arms(m);
    char *w = malloc((size_t)K * 32 + 1);
    if (!w || !abar) {
        bmx_mix_free(m);
        free(w);
        fprintf(stderr, "bmx %s: the proxy run holds no DoReMi state\n", cmd);
        return 1;
    }
    size_t n = 0;
    for (int i = 0; i < K; i++)
        n += (size_t)snprintf(w + n, 32, "%s%.17g", i ? "," : "", abar[i]);
    bmx_mix_free(m);
    snprintf(wpath, sizeof wpath, "%s/weights.txt", dir);
    FILE *f = cli_rank() == 0 ? fopen(wpath, "w") : NULL;
    if (cli_rank() == 0 && (!f || fprintf(f, "%s\n", w) < 0 || fclose(f) != 0)) {
        fprintf(stderr, "bmx %s: cannot write %s\n", cmd, wpath);
        free(w);
        return 1;
    }
    if (cli_rank() == 0)
        fprintf(stderr,
                "bmx %s: DoReMi weights (alpha_bar, domains in the log header's order): %s\n", cmd,
                w);
    bmx_run_config fc = *base;
    fc.out = final_dir;
    fc.policy = "weights";
    fc.weights = w;
    fc.method = "doremi";
    snprintf(lab, sizeof lab, "%s final", label);
    rc = train_or_resume(cmd, &fc, lab);
    free(w);
    return rc;
}

int cmd_doremi(int argc, char **argv)
{
    bmx_run_config cfg = bmx_run_config_default();
    bmx_run_strings store = {0};
    struct run_cli rcli;
    const char *config = NULL, *reference = NULL;
    int npos = 0, rc;
    cfg.policy = "doremi";
    if ((rc = run_config_prescan("doremi", argc, argv, &cfg, &store)))
        return rc;
    int n = run_opts_build(&rcli, &cfg);
    /* policy, method, reference are set per stage */
    for (int i = 0; i < n; i++)
        if (strcmp(rcli.names[i], "policy") == 0 || strcmp(rcli.names[i], "method") == 0 ||
            strcmp(rcli.names[i], "reference") == 0) {
            memmove(&rcli.opts[i], &rcli.opts[i + 1], (size_t)(n - i - 1) * sizeof rcli.opts[0]);
            memmove(rcli.names[i], rcli.names[i + 1], (size_t)(n - i - 1) * sizeof rcli.names[0]);
            for (int k = i; k < n - 1; k++)
                rcli.opts[k].name = rcli.names[k];
            n--;
            i--;
        }
    rcli.opts[n++] = (struct cli_opt){"config", CLI_STR, &config, "configuration file"};
    rcli.opts[n++] = (struct cli_opt){"use-reference", CLI_STR, &reference,
                                      "an existing reference run folder (skip training one)"};
    n += cli_dist_opts(&rcli.opts[n]);
    rcli.opts[n] = (struct cli_opt){0};
    const char *usage =
        "usage: bmx doremi --data DIR --out DIR [OPTIONS]\n\n"
        "DoReMi (ALGORITHMS.md section 3): train a reference model on the baseline weights\n"
        "(--weights, default uniform) in OUT/reference, a proxy model with the DoReMi\n"
        "updater against it in OUT/proxy (per-token excess loss on the same batch), write\n"
        "the averaged weights alpha_bar to OUT/weights.txt, then train the final model on\n"
        "them in OUT/final. Every stage uses the same model and budget; run again to resume.";
    rc = cli_parse(argc, argv, usage, rcli.opts, NULL, 0, &npos);
    if (rc) {
        bmx_run_strings_free(&store);
        return rc > 0 ? 0 : 2;
    }
    if ((rc = cli_dist_apply("doremi", run_stop_ptr()))) {
        bmx_run_strings_free(&store);
        return rc;
    }
    bmx_err err = {0};
    char outdir[PATH_MAX];
    snprintf(outdir, sizeof outdir, "%s", cfg.out);
    cfg.out = "x"; /* checked per stage */
    if (bmx_run_config_check(&cfg, &err) < 0 || !*outdir) {
        bmx_run_strings_free(&store);
        return cli_fail("doremi", "%s", *outdir ? err.msg : "--out DIR is required");
    }
    char *text = bmx_run_config_text(&cfg);
    if (cli_rank() == 0)
        fprintf(stderr, "bmx doremi: configuration of every stage\n%s", text ? text : "");
    free(text);
    if (mkdir_p(outdir) != 0) {
        bmx_run_strings_free(&store);
        fprintf(stderr, "bmx doremi: cannot create %s\n", outdir);
        return 1;
    }
    run_signals_install();
    char final_dir[PATH_MAX];
    rc = run_doremi("doremi", &cfg, outdir, reference, "doremi", final_dir, sizeof final_dir);
    if (!rc && cli_rank() == 0)
        fprintf(stderr, "bmx doremi: done; final model in %s\n", final_dir);
    bmx_run_strings_free(&store);
    return rc;
}
