/* bmx/report.h - the report module: what runs leave behind, read back and drawn. One HTML/SVG
 * toolkit (self-contained SVG plots), the run logs and the comparison report, the statistics
 * over seeds, and the FLAD comparison's table. (The text utilities it builds on - bmx_sbuf,
 * bmx_json, bmx_jval - are in bmx/core.h.)
 *
 * SVG: self-contained documents (no scripts, no external fonts) that parse as XML:
 *  - bmx_svg_lines: several named series y(x) in one plot, with axes, "nice" ticks (1, 2, 5
 *    times a power of ten), axis labels, a title and a legend; a non-finite y breaks the
 *    line; more than BMX_SVG_MAX_POINTS points are reduced by averaging consecutive runs.
 *  - bmx_svg_stacked: a distribution over time as a stacked area (y from 0 to 1 for a
 *    distribution), one band per arm. With many arms only the `top` arms with the largest
 *    mean share get a band and a legend entry of their own; the rest form one "other" band.
 *
 * Run logs: read the logs of training runs (bmx/run.h) and build the comparison report.
 *
 * bmx_runlog_load reads RUN/log.jsonl (or the file given) into arrays; every line is checked
 * (valid JSON, the record's fields with the right types and sizes) and an error names the
 * file and line. A run killed mid-line (a truncated last line) is an error too: resume it.
 * A run still going (a run folder whose lock a process holds) loads as far as it has written:
 * its last line, if the writer is in the middle of it, is left out and `live` is set.
 *
 * bmx_report_html builds one self-contained HTML page (inline SVG, no scripts) from loaded
 * runs, grouped by method (the header's "method"; runs of one method differ by seed):
 *  1. mean validation perplexity (the mean over domains of exp(loss)) against steps, one
 *     line per method: the mean over its seeds with its 95% t-band, and min and max over
 *     seeds as thin lines when it has several;
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
 *
 * The evidence over seeds (bmx_report_summary, src/report/summary.c) adds, per method:
 *  - the final mean validation perplexity and each domain's final perplexity (at the last
 *    step every seed of the method evaluated), as the mean over seeds with a 95% Student
 *    t-interval (mean +- t_{0.975,n-1} s / sqrt(n), s the sample standard deviation); one
 *    seed has no interval;
 *  - steps to reach the target of 2. per seed (each seed's own curve, interpolated): how
 *    many seeds reach it, and the mean and t-interval over those that do;
 *  - a paired comparison against uniform (the method whose policy is uniform) on the seeds
 *    both have: per seed the difference method - uniform of the mean perplexity at the last
 *    step both runs evaluated (and 100 (method / uniform - 1), in %), the mean difference
 *    with its paired t-interval, the seeds the method wins (lower perplexity), and the same
 *    difference per domain;
 *  - the curve of 1. with a t-band at every step, and the paired relative difference to
 *    uniform over steps with its band.
 * bmx_report_html shows them (bands on the perplexity plot; the plot relative to uniform is
 * the paired difference with its band and a zero line; tables with intervals);
 * bmx_summary_json and bmx_summary_markdown write them for machines and for docs.
 */
#ifndef BMX_REPORT_H
#define BMX_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "bmx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVG plots ---- */

#define BMX_SVG_MAX_POINTS 800

typedef struct bmx_plot {
    const char *title;  /* may be NULL */
    const char *xlabel; /* may be NULL */
    const char *ylabel; /* may be NULL */
    int width, height;  /* pixels; 0 = 720 x 420 */
} bmx_plot;

typedef struct bmx_plot_series {
    const char *name; /* legend text */
    const double *x;  /* n values, increasing; NULL = 1, 2, ..., n */
    const double *y;  /* n values */
    size_t n;
} bmx_plot_series;

/* Append a line plot of ns series to out. Errors (BMX_EINVAL): ns == 0, a series with n == 0
 * or without y, non-finite x, or no finite y at all. */
int bmx_svg_lines(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series, size_t ns,
                  bmx_err *err);

/* A shaded band around a series, lo[i] to hi[i] at the series' x[i] (a confidence band); a
 * non-finite bound leaves a gap. */
typedef struct bmx_plot_band {
    const double *lo, *hi; /* the series' n values each; NULL: no band */
} bmx_plot_band;

/* bmx_svg_lines with bands (bands: ns entries, or NULL for none) drawn under the lines in
 * each series' colour (class "ci-band"), and when zero_line a dashed line at y = 0 (class
 * "zero"; 0 is then always within the y range). */
int bmx_svg_lines_band(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series,
                       const bmx_plot_band *bands, size_t ns, int zero_line, bmx_err *err);

/* Append a stacked-area plot of n rows of k values (v[i * k + a] = share of arm a at x[i];
 * x NULL = 1..n) to out. names: k legend names or NULL ("arm 0", "arm 1", ...). top: arms
 * shown on their own (0 = 12); when k > top + 1 the others are summed into "other".
 * Errors (BMX_EINVAL): n == 0, k == 0, a negative or non-finite value, non-finite x. */
int bmx_svg_stacked(bmx_sbuf *out, const bmx_plot *plot, const double *x, size_t n, const double *v,
                    size_t k, const char *const *names, size_t top, bmx_err *err);

/* ---- run logs and the comparison report ---- */

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
    double *alpha; /* nsteps * K, rows alpha_from.. (a doremi proxy's weights); else NULL */
    size_t alpha_from;
    double *dloss; /* nsteps * K, NAN where the domain was not drawn */
    int *dcount;   /* nsteps * K */
    size_t nprobe; /* steps logged as probe steps (aioli) */
    /* eval records */
    size_t nevals;
    long *eval_step;
    double *eval_loss; /* nevals * K */
    double *eval_avg_ppl;
    int live; /* the run was still going (its folder's lock held) when it was read */
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

/* ---- statistics over seeds (src/report/stats.c) ---- */

/* Degrees of freedom the t functions take: 1 to BMX_T_MAX_DF (NAN outside). */
#define BMX_T_MAX_DF 100000

/* Student's t distribution with df degrees of freedom (an integer): its CDF, and its
 * quantile (the t with CDF p, 0 < p < 1; bmx_t_quantile(0.975, 4) = 2.7764...). Exact series
 * of elementary functions (Abramowitz and Stegun 26.7.3-4), the quantile by bisection to
 * double precision. NAN for a df or p out of range. */
double bmx_t_cdf(double t, long df);
double bmx_t_quantile(double p, long df);

/* The mean of n values with its 95% Student t-interval. */
typedef struct bmx_ci {
    size_t n;      /* values */
    double mean;   /* NAN when n == 0 */
    double sd;     /* sample standard deviation (divisor n - 1); NAN when n < 2 */
    double half;   /* t_{0.975,n-1} sd / sqrt(n); NAN when n < 2 (no interval) */
    double lo, hi; /* mean -+ half; NAN when n < 2 */
} bmx_ci;

bmx_ci bmx_ci95(const double *x, size_t n);
/* "MEAN +- HALF" with prec decimals, "MEAN (1 seed, no interval)", or "-" when n == 0;
 * returns buf. */
char *bmx_ci_text(char *buf, size_t cap, const bmx_ci *c, int prec);
/* Does the interval exclude 0 (n >= 2 and lo > 0 or hi < 0)? */
int bmx_ci_excludes_zero(const bmx_ci *c);

/* ---- the evidence over seeds (src/report/summary.c) ---- */

typedef struct bmx_method_summary {
    const char *method, *policy; /* borrowed from its first run */
    int is_static;
    int is_reference; /* the uniform method the others are paired with */
    size_t nseeds;
    uint64_t *seeds;   /* nseeds, in the order the runs were given */
    long final_step;   /* the last step every seed evaluated; -1 when none is common */
    double *final_ppl; /* nseeds: each seed's mean validation perplexity at final_step */
    bmx_ci final_ci;
    double *domain_ppl; /* nseeds * K: each seed's perplexity of each domain at final_step */
    bmx_ci *domain_ci;  /* K */
    double *mean_pi;    /* nseeds * K: each seed's sampling probability of each domain, the
                           mean over its steps (a static run's weights; NAN without steps) */
    /* steps to reach bmx_summary.target, each seed on its own curve */
    double *reach; /* nseeds, NAN where the seed never reaches it */
    size_t nreached;
    bmx_ci reach_ci; /* over the seeds that reach it */
    /* paired with the reference on the seeds both have (none for the reference itself) */
    size_t npaired;
    uint64_t *paired_seeds; /* npaired */
    long *paired_step;      /* npaired: the last step both runs evaluated */
    double *diff;           /* npaired: method - uniform, mean perplexity */
    double *rel_pct;        /* npaired: 100 (method / uniform - 1) */
    bmx_ci diff_ci, rel_ci;
    size_t wins;            /* pairs where the method's perplexity is lower */
    double *domain_diff;    /* npaired * K */
    bmx_ci *domain_diff_ci; /* K */
    /* over the evaluation steps every seed has: the mean perplexity with its t-band, and the
     * paired relative difference to uniform (%) where the paired uniform runs have the step */
    size_t ncurve;
    double *curve_step;
    bmx_ci *curve;
    size_t nrel;
    double *rel_step;
    bmx_ci *rel_curve;
} bmx_method_summary;

typedef struct bmx_summary {
    int K;
    char **domains; /* borrowed from the first run */
    size_t nmethods;
    bmx_method_summary *methods; /* in the order methods first appear */
    const char *baseline;        /* the best static method (2. above), NULL when none */
    double target;               /* its seed-mean final perplexity, NAN when none */
    const char *reference;       /* the uniform method, NULL when none */
} bmx_summary;

/* The summary of loaded runs (they must outlive it). Errors as bmx_report_headline's, except
 * that a missing static baseline or uniform method only leaves those figures out. */
int bmx_report_summary(bmx_runlog *const *runs, size_t n, bmx_summary **out, bmx_err *err);
void bmx_summary_free(bmx_summary *s);

/* The summary as one JSON document (every figure, per-seed values included, the curves;
 * intervals as {"n","mean","sd","half","lo","hi"} with nulls where there is none). */
int bmx_summary_json(const bmx_summary *s, bmx_sbuf *out, bmx_err *err);
/* The tables as GitHub Markdown, for docs/EXPERIMENTS.md. */
int bmx_summary_markdown(const bmx_summary *s, bmx_sbuf *out, bmx_err *err);

/* The whole HTML report into out. */
int bmx_report_html(bmx_runlog *const *runs, size_t n, const char *title, bmx_sbuf *out,
                    bmx_err *err);

/* The files of `bmx report` and `bmx compare` from n run folders (or logs): loads them,
 * writes the HTML report to html (X.html) and the summary over seeds beside it, X.json and
 * X.md (their paths in f->json, f->md). For the caller to show: f->headline, the headline as
 * text ("target = BASE's final mean validation perplexity P\n", then a line per method;
 * empty without a static baseline), and f->summary, a line per method (final mean
 * perplexity with its interval, the paired difference to uniform and its wins).
 * f->html_written says whether the HTML was saved (an error may come after it). Errors: a
 * run that does not load (naming its file and line), and those of bmx_report_html,
 * bmx_report_summary and the writes (naming the file). Free f with bmx_report_files_free,
 * on success or not. */
typedef struct bmx_report_files {
    char json[4096], md[4096];
    int html_written;
    bmx_sbuf headline, summary;
} bmx_report_files;

int bmx_report_write(char *const *dirs, size_t n, const char *html, const char *title,
                     bmx_report_files *f, bmx_err *err);
void bmx_report_files_free(bmx_report_files *f);

/* ---- the FLAD comparison (bmx flad-compare): every method on every target and split ----
 * Collects each target's reference scores and each run's outcome, then writes OUT/table.md
 * (test accuracy in %, mean and sample standard deviation over splits; when every target has
 * its reference scores, the rows "zero-shot (base model)" and "label prior" first; then the
 * methods' rows as in the FLAD paper, a column per target and their mean; an EXP3-FLAD cell
 * whose runs never left uniform says so; then per method the runs that kept the base model),
 * OUT/results.jsonl (one line per run, with its best_round and its target's zero_shot_test_acc,
 * its split's zero_shot_val_acc and prior_test_acc, null where no reference was given) and
 * OUT/report.html (the table, the auxiliary datasets EXP3 and UCB1 drew most per target,
 * EXP3's arm probabilities over the rounds of split 0). */
#define BMX_FLAD_CMP_METHODS 5 /* target-only, explore-only, exploit-only, exp3, ucb1 */
#define BMX_FLAD_CMP_TARGETS 16
#define BMX_FLAD_CMP_SPLITS  5

typedef struct bmx_flad_outcome {
    const char *policy; /* the spec the run used */
    double test_acc, best_val;
    long rounds, nonuniform; /* rounds, and those whose pi differed from uniform */
    long min_rounds, aux_batches;
    int naux; /* arms: */
    const char *const *arm_names;
    const long *arm_counts; /* batches drawn from each */
    const char *log;        /* the run's log.jsonl (its "probs" rows) */
    long best_round;        /* the round of its best validation accuracy (0: kept theta_0) */
} bmx_flad_outcome;

/* A target's reference scores: the base model's (theta_0, where every run starts) test
 * accuracy, its few-shot validation accuracy per split, and per split the test accuracy of
 * always answering the choice most often correct in that split's train set (label prior). */
typedef struct bmx_flad_reference {
    double test_acc;
    double val[BMX_FLAD_CMP_SPLITS], prior[BMX_FLAD_CMP_SPLITS];
} bmx_flad_reference;

typedef struct bmx_flad_cmp bmx_flad_cmp;

/* Method k's name ("target-only" ... "ucb1"), NULL out of range. */
const char *bmx_flad_cmp_method(int k);
/* use[k] = method k is in list (comma-separated names; NULL = all). */
void bmx_flad_cmp_methods(const char *list, int use[BMX_FLAD_CMP_METHODS]);
/* nt targets (2..16; their names are kept as given), splits 1..5, the methods used, the
 * reward, EXP3's spec and the auxiliary draws per round (for the table and the results). */
int bmx_flad_cmp_create(bmx_flad_cmp **out, const char *const *targets, int nt, int splits,
                        const int *use, const char *reward, const char *exp3spec, int aux_draws,
                        bmx_err *err);
void bmx_flad_cmp_free(bmx_flad_cmp *c);
/* Target t's reference scores, before its outcomes (their results.jsonl lines carry them). */
int bmx_flad_cmp_set_reference(bmx_flad_cmp *c, int t, const bmx_flad_reference *r, bmx_err *err);
/* The outcome of method k on target t, split s. */
int bmx_flad_cmp_add(bmx_flad_cmp *c, int t, int s, int k, const bmx_flad_outcome *r, bmx_err *err);
/* After every run of target t: its row of most-used auxiliary datasets. */
void bmx_flad_cmp_end_target(bmx_flad_cmp *c, int t);
/* Write the three files under out; *table (may be NULL) gets table.md's text. */
int bmx_flad_cmp_write(bmx_flad_cmp *c, const char *out, const char **table, bmx_err *err);

/* ---- the simulator's report (src/report/sim_report.c) ---- */
/* After bmx_sim_run_exec (bmx/sim.h): summary.json, metric.svg, probs-LABEL.svg and index.html
 * under the run's out folder. */
struct bmx_sim_run;
int bmx_report_sim(const struct bmx_sim_run *r, bmx_err *err);
/* The table of final metrics as text (what bmx simulate prints): a header, then per policy its
 * canonical spec, what it observes and the mean final metric (regret or mean loss), with its
 * standard deviation over seeds when there are several. */
void bmx_report_sim_table(const struct bmx_sim_run *r, bmx_sbuf *out);

#ifdef __cplusplus
}
#endif

#endif
