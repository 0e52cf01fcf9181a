/* bmx/runlog.h - read the logs of training runs (bmx/run.h) and build the comparison report.
 *
 * bmx_runlog_load reads RUN/log.jsonl (or the file given) into arrays; every line is checked
 * (valid JSON, the record's fields with the right types and sizes) and an error names the
 * file and line. A run killed mid-line (a truncated last line) is an error too: resume it.
 *
 * bmx_report_html builds one self-contained HTML page (inline SVG, no scripts) from loaded
 * runs, grouped by method (the header's "method"; runs of one method differ by seed):
 *  1. mean validation perplexity (the mean over domains of exp(loss)) against steps, one
 *     line per method: the mean over its seeds, with min and max over seeds as thin lines
 *     when it has several;
 *  2. the headline figure of the ODM paper: the best static baseline (lowest final mean
 *     perplexity among the methods whose policy is uniform, natural or weights - DoReMi's
 *     final run is a `weights` run) sets a target, its final mean perplexity; for every
 *     method, the first step its seed-mean curve reaches the target (linear interpolation
 *     between evaluations) and how many fewer steps that is than the baseline's final step,
 *     in percent; "not reached" when it never does;
 *  3. per-domain final perplexity table: mean over seeds (and the spread max - min);
 *  4. the distribution over time of each adaptive method (first seed), stacked areas, and
 *     for how many of its steps it was exactly uniform (bmx_runlog_uniform_steps); the
 *     runs table gives that count for every run; a run with probe steps (aioli) says how
 *     many of its steps were probes (they count against its step budget).
 * Every run must have the same domains in the same order.
 */
#ifndef BMX_RUNLOG_H
#define BMX_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"
#include "bmx/report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bmx_runlog {
    char *path;
    char *method, *policy;
    uint64_t seed;
    int K;
    char **domains;
    double *train_tokens; /* K */
    long steps_planned, tokens_per_step;
    /* step records */
    size_t nsteps;
    long *step;
    double *loss;
    double *grad_norm;
    double *probs; /* nsteps * K */
    double *dloss; /* nsteps * K, NAN where the domain was not drawn */
    int *dcount;   /* nsteps * K */
    size_t nprobe; /* steps logged as probe steps (aioli) */
    /* eval records */
    size_t nevals;
    long *eval_step;
    double *eval_loss; /* nevals * K */
    double *eval_avg_ppl;
} bmx_runlog;

/* path: a run folder (its log.jsonl is read) or a log file. */
int bmx_runlog_load(const char *path, bmx_runlog **out, bmx_err *err);
void bmx_runlog_free(bmx_runlog *l);
/* Is the policy static (uniform, natural, weights)? */
int bmx_runlog_is_static(const bmx_runlog *l);
/* Steps whose distribution was exactly uniform: max_d |pi_d - 1/K| <= 1e-12 (odm and exp3
 * are, while S t <= K ln K: bmx/mix.h bmx_mix_uniform_rounds). */
size_t bmx_runlog_uniform_steps(const bmx_runlog *l);

/* One headline row per method (see 2. above); filled by bmx_report_headline. */
typedef struct bmx_headline {
    const char *method;
    double final_ppl;  /* mean over seeds of the final mean perplexity */
    double reach_step; /* first step at the target (interpolated), NAN if never */
    double fewer_pct;  /* 100 * (1 - reach_step / baseline's final step) */
} bmx_headline;

/* The headline rows (one per method, in the order methods first appear) and the baseline
 * (its method name in *baseline, its target in *target). Errors: no static method, or runs
 * with different domains. *rows is malloc'd. */
int bmx_report_headline(bmx_runlog *const *runs, size_t n, bmx_headline **rows, size_t *nrows,
                        const char **baseline, double *target, bmx_err *err);

/* The whole HTML report into out. */
int bmx_report_html(bmx_runlog *const *runs, size_t n, const char *title, bmx_sbuf *out,
                    bmx_err *err);

#ifdef __cplusplus
}
#endif

#endif
