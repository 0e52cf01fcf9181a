/* Work made of several training runs (bmx/pipeline.h): DoReMi's stages and the comparison
 * grid of methods x seeds, each run resumed or skipped when its folder is already there. */
#include "bmx/pipeline.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/dist.h"
#include "bmx/mix.h"

/* One run: resumed when its folder holds a config.txt (rank 0 decides for every rank). */
static int train(const bmx_pipeline_opts *o, const bmx_run_config *c, const char *label,
                 bmx_err *err)
{
    char p[PATH_MAX + 16];
    struct stat st;
    int resume;

    snprintf(p, sizeof p, "%s/config.txt", c->out);
    resume = stat(p, &st) == 0;
    if (o->run.dist && bmx_dist_size(o->run.dist) > 1 &&
        bmx_dist_bcast(o->run.dist, &resume, sizeof resume, "sharing rank 0's choice", err) < 0)
        return err->code;
    if (o->train)
        return o->train(o->ctx, c, resume, label, err);
    bmx_run_opts ro = o->run;
    ro.resume = resume;
    return bmx_run_train(c, &ro, err);
}

static int lock(const bmx_pipeline_opts *o, const char *dir, int *fd, bmx_err *err)
{
    *fd = -1;
    return bmx_dist_rank(o->run.dist) == 0 ? bmx_run_lock(dir, fd, err) : BMX_OK;
}

/* alpha_bar of the proxy run as "w1,w2,..." (malloc'd) into *w, written to dir/weights.txt
 * by rank 0. */
static int doremi_weights(const bmx_pipeline_opts *o, const char *proxy, const char *dir, char **w,
                          bmx_err *err)
{
    char path[PATH_MAX + 16];
    bmx_mix *m = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    if ((rc = bmx_run_policy_load(proxy, &m, err)) < 0)
        return rc;
    const double *abar = bmx_mix_average(m);
    int k = bmx_mix_arms(m);
    *w = abar ? malloc((size_t)k * 32 + 1) : NULL;
    for (int i = 0; *w && i < k; i++)
        n += (size_t)snprintf(*w + n, 32, "%s%.17g", i ? "," : "", abar[i]);
    bmx_mix_free(m);
    if (!*w)
        return bmx_err_set(err, BMX_ESTATE, "the proxy run %s holds no DoReMi state", proxy);
    if (bmx_dist_rank(o->run.dist) != 0)
        return BMX_OK;
    snprintf(path, sizeof path, "%s/weights.txt", dir);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", *w) < 0 || fclose(f) != 0)
        return bmx_err_set(err, BMX_EIO, "cannot write %s", path);
    bmx_log(&o->run.log, BMX_LOG_INFO,
            "DoReMi weights (alpha_bar, domains in the log header's order): %s", *w);
    return BMX_OK;
}

static int doremi_stages(const bmx_run_config *cfg, const char *dir, const char *reference,
                         const char *label, const bmx_pipeline_opts *o, bmx_err *err)
{
    char ref[PATH_MAX], proxy[PATH_MAX], fin[PATH_MAX], lab[256], *w = NULL;
    bmx_run_config r = *cfg, p = *cfg, fc = *cfg;
    int rc;

    snprintf(ref, sizeof ref, "%s/reference", dir);
    snprintf(proxy, sizeof proxy, "%s/proxy", dir);
    snprintf(fin, sizeof fin, "%s/final", dir);
    if (!reference) {
        r.out = ref;
        r.method = "doremi-reference";
        r.policy = *r.weights ? "weights" : "uniform";
        snprintf(lab, sizeof lab, "%s reference", label);
        if ((rc = train(o, &r, lab, err)))
            return rc;
        reference = ref;
    }
    p.out = proxy;
    p.policy = "doremi";
    p.method = "doremi-proxy";
    p.reference = reference;
    snprintf(lab, sizeof lab, "%s proxy", label);
    if ((rc = train(o, &p, lab, err)) || (rc = doremi_weights(o, proxy, dir, &w, err)))
        return rc;
    fc.out = fin;
    fc.policy = "weights";
    fc.weights = w;
    fc.method = "doremi";
    snprintf(lab, sizeof lab, "%s final", label);
    rc = train(o, &fc, lab, err);
    free(w);
    return rc;
}

int bmx_pipeline_doremi(const bmx_run_config *cfg, const char *dir, const char *reference,
                        const char *label, const bmx_pipeline_opts *o, bmx_err *err)
{
    int fd = -1, rc;

    if ((rc = bmx_file_mkdir_p(dir, err)) != BMX_OK || (rc = lock(o, dir, &fd, err)) != BMX_OK)
        return rc;
    rc = doremi_stages(cfg, dir, reference, label ? label : "doremi", o, err);
    bmx_run_unlock(fd);
    return rc;
}

/* Comma-separated items of s (modified); a piece holding '=' but no ':' continues the
 * previous item's parameters. -1 when there are more than max. */
static int split_list(char *s, char **out, int max)
{
    char *save = NULL;
    int n = 0;

    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
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

int bmx_pipeline_grid_parse(bmx_pipeline_grid *g, const char *methods, const char *seeds,
                            bmx_err *err)
{
    size_t lm = strlen(methods), ls = strlen(seeds);
    char *slist[BMX_PIPELINE_MAX_SEEDS];

    memset(g, 0, sizeof *g);
    if (!(g->text = malloc(lm + ls + 2)))
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    memcpy(g->text, methods, lm + 1);
    memcpy(g->text + lm + 1, seeds, ls + 1);
    g->nmethods = split_list(g->text, g->methods, BMX_PIPELINE_MAX_METHODS);
    g->nseeds = split_list(g->text + lm + 1, slist, BMX_PIPELINE_MAX_SEEDS);
    if (g->nmethods <= 0 || g->nseeds <= 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "--methods and --seeds want 1..32 comma-separated items");
    for (int i = 0; i < g->nseeds; i++) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(slist[i], &end, 10);
        if (errno || *end || end == slist[i] || slist[i][0] == '-')
            return bmx_err_set(err, BMX_EINVAL, "--seeds: '%s' is not a non-negative integer",
                               slist[i]);
        g->seeds[i] = v;
    }
    return BMX_OK;
}

int bmx_pipeline_grid_check(const bmx_pipeline_grid *g, const bmx_run_config *cfg, bmx_err *err)
{
    for (int i = 0; i < g->nmethods; i++) {
        bmx_run_config c = *cfg;
        bmx_mix *m = NULL;
        double w[2] = {1, 1};
        bmx_mix_data data = {w, 1, 1}; /* token counts, for max-epochs */
        c.policy = g->methods[i];
        if (bmx_run_config_check(&c, err) < 0 ||
            (strcmp(g->methods[i], "doremi") != 0 &&
             bmx_mix_create_data(&m, g->methods[i], 2, w, &data, 1, err) < 0))
            return bmx_err_prefix(err, "method '%s': ", g->methods[i]);
        bmx_mix_free(m);
    }
    return BMX_OK;
}

void bmx_pipeline_grid_free(bmx_pipeline_grid *g)
{
    free(g->text);
    memset(g, 0, sizeof *g);
}

/* One method of one seed in dir; uni: the seed's uniform run so far ("" if none). */
static int grid_one(const bmx_pipeline_grid *g, int i, const bmx_run_config *cfg, char *dir,
                    size_t cap, char *uni, const bmx_pipeline_opts *o, bmx_err *err)
{
    const char *method = g->methods[i];
    char label[128];
    bmx_run_config c = *cfg;
    int rc;

    snprintf(label, sizeof label, "%s s%llu", method, (unsigned long long)cfg->seed);
    if (strcmp(method, "doremi") == 0) {
        rc = bmx_pipeline_doremi(&c, dir, *uni ? uni : NULL, label, o, err);
        snprintf(dir + strlen(dir), cap - strlen(dir), "/final");
        return rc;
    }
    c.out = dir;
    c.policy = method;
    c.method = method;
    rc = train(o, &c, label, err);
    if (strcmp(method, "uniform") == 0 && !*c.weights)
        snprintf(uni, PATH_MAX, "%s", dir);
    return rc;
}

int bmx_pipeline_compare(const bmx_pipeline_grid *g, const bmx_run_config *cfg, const char *out,
                         char *dirs, size_t dir_cap, const bmx_pipeline_opts *o, bmx_err *err)
{
    int fd = -1, rc, nd = 0;

    if ((rc = bmx_file_mkdir_p(out, err)) != BMX_OK || (rc = lock(o, out, &fd, err)) != BMX_OK)
        return rc;
    for (int s = 0; s < g->nseeds && !rc; s++) {
        char uni[PATH_MAX] = "";
        bmx_run_config c = *cfg;
        c.seed = g->seeds[s];
        for (int i = 0; i < g->nmethods && !rc; i++, nd++) {
            char *dir = dirs + (size_t)nd * dir_cap;
            snprintf(dir, dir_cap, "%s/%s-s%llu", out, g->methods[i], (unsigned long long)c.seed);
            for (size_t q = strlen(out) + 1; q < strlen(dir); q++) /* the method's part */
                if (strchr(":=,/", dir[q]))
                    dir[q] = '_';
            rc = grid_one(g, i, &c, dir, dir_cap, uni, o, err);
        }
    }
    bmx_run_unlock(fd);
    return rc;
}
