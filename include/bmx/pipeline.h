/* bmx/pipeline.h - work made of several training runs (bmx/run.h): DoReMi's stages and the
 * comparison grid of methods x seeds. Every run is resumed when its folder already holds a
 * config.txt (a finished run resumes to its end at once: it is skipped), so a pipeline that
 * was stopped continues where it stopped when it is started again.
 *
 * DoReMi (ALGORITHMS.md section 3) in DIR: a reference run on the baseline weights
 * (cfg->weights, "" = uniform) in DIR/reference (skipped when a reference run folder is
 * given), a proxy run with policy doremi against it in DIR/proxy, its averaged weights
 * alpha_bar written to DIR/weights.txt (one line, %.17g values, domains in the log header's
 * order) and logged at BMX_LOG_INFO, then the final run on those weights in DIR/final
 * (method "doremi", policy "weights"). Every stage has the configuration cfg but for out,
 * policy, method, reference and weights.
 *
 * The grid in OUT: for each seed, each method: OUT/<method>-s<seed> (the method's spec with
 * ':', '=', ',' and '/' made '_'), with cfg but for out, policy = method = the spec and
 * seed; `doremi` runs the DoReMi stages in OUT/doremi-s<seed>/ with the seed's `uniform`
 * run, when it came earlier in the list and has no weights, as its reference.
 *
 * Data-parallel runs (opts->run.dist with several ranks): every rank calls the pipeline;
 * rank 0 alone takes the folder locks and writes weights.txt, and rank 0's resume decision
 * is used on every rank. */
#ifndef BMX_PIPELINE_H
#define BMX_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One run of a pipeline. Returns 0 when it is done; anything else stops the pipeline, which
 * returns that value. */
typedef int (*bmx_pipeline_train_fn)(void *ctx, const bmx_run_config *c, int resume,
                                     const char *label, bmx_err *err);

typedef struct bmx_pipeline_opts {
    /* train == NULL: bmx_run_train(c, &run with run.resume = resume, err) (0 done, 1 stopped
     * by *run.stop, < 0 an error); otherwise train(ctx, ...) runs each run. */
    bmx_run_opts run;
    bmx_pipeline_train_fn train;
    void *ctx;
} bmx_pipeline_opts;

/* DoReMi's stages in dir (created); reference: an existing reference run folder or NULL;
 * label: the runs' labels are "LABEL reference", "LABEL proxy", "LABEL final". The final
 * run's folder is dir/final. 0 done, or what a run returned, or < 0 (err set). */
int bmx_pipeline_doremi(const bmx_run_config *cfg, const char *dir, const char *reference,
                        const char *label, const bmx_pipeline_opts *o, bmx_err *err);

#define BMX_PIPELINE_MAX_METHODS 32
#define BMX_PIPELINE_MAX_SEEDS   32

typedef struct bmx_pipeline_grid {
    char *methods[BMX_PIPELINE_MAX_METHODS]; /* policy specs, or doremi */
    int nmethods;
    uint64_t seeds[BMX_PIPELINE_MAX_SEEDS];
    int nseeds;
    char *text; /* the storage of methods[] */
} bmx_pipeline_grid;

/* Parse "uniform,odm:alpha=0.8,ado:warmup=5,interval=10,doremi" (a piece with '=' but no ':'
 * continues the previous method) and "1,2,3" (non-negative integers) into g, 1 to 32 of
 * each. Free with bmx_pipeline_grid_free (also after a failure). */
int bmx_pipeline_grid_parse(bmx_pipeline_grid *g, const char *methods, const char *seeds,
                            bmx_err *err);
/* Check every method with cfg before anything runs: bmx_run_config_check with the method as
 * policy, and a policy that a 2-arm bmx_mix_create accepts (doremi: the config only). */
int bmx_pipeline_grid_check(const bmx_pipeline_grid *g, const bmx_run_config *cfg, bmx_err *err);
void bmx_pipeline_grid_free(bmx_pipeline_grid *g);

/* Run the grid in out (created, locked while it runs). dirs (nmethods * nseeds entries of
 * dir_cap bytes, seed-major) receive each run's folder (doremi: its final run), the folders a
 * report compares. 0 done, or what a run returned, or < 0 (err set). */
int bmx_pipeline_compare(const bmx_pipeline_grid *g, const bmx_run_config *cfg, const char *out,
                         char *dirs, size_t dir_cap, const bmx_pipeline_opts *o, bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
