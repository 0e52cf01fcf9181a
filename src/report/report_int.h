/* src/report/report_int.h - what the report's files share (not installed). */
#ifndef BMX_RUNLOG_INT_H
#define BMX_RUNLOG_INT_H

#include "bmx/report.h"

/* The runs of one method (its seeds) and its seed-mean curve over the evaluation steps of
 * its first run that every seed evaluated (min and max over seeds beside it). */
struct bmx_rl_method {
    const char *name;
    bmx_runlog **runs;
    size_t n;
    /* seed-mean curve over the first run's eval steps */
    double *x, *mean, *lo, *hi;
    size_t m;
};

/* Group runs by method, in the order methods first appear; checks that every run has the
 * same domains and possible evaluations. */
int bmx_rl_group(bmx_runlog *const *runs, size_t n, struct bmx_rl_method **out, size_t *nm,
                 bmx_err *err);
void bmx_rl_methods_free(struct bmx_rl_method *ms, size_t n);
/* The eval index of step s in run l, or -1. */
long bmx_rl_eval_at(const bmx_runlog *l, long s);
int bmx_rl_is_static(const struct bmx_rl_method *m);
/* The headline rows (bmx_report_headline) of grouped runs. */
int bmx_rl_headline(struct bmx_rl_method *ms, size_t nm, bmx_headline *rows, const char **baseline,
                    double *target, bmx_err *err);
/* The first step at which y(x) (m points) is <= target, interpolated linearly between
 * evaluations; NAN when never. */
double bmx_rl_reach(const double *x, const double *y, size_t m, double target);

/* The report's sections over seeds (html_seeds.c): the table of means with intervals, the
 * per-domain tables, the paired relative plot with its band. */
void bmx_rl_html_seeds(bmx_sbuf *o, const bmx_summary *s);
void bmx_rl_html_domains(bmx_sbuf *o, const bmx_summary *s);
int bmx_rl_html_rel(bmx_sbuf *o, const bmx_summary *s, bmx_err *err);
/* Every method's sampling weight per domain (bmx_rl_pi_cell), with its note. */
void bmx_rl_html_weights(bmx_sbuf *o, const bmx_summary *s);

/* Method m's sampling probability of domain d over its seeds (bmx_method_summary.mean_pi):
 * the mean of the seeds that have steps into *mean (NAN when none) and half their range into
 * *half. */
void bmx_rl_pi_cell(const bmx_method_summary *m, int K, int d, double *mean, double *half);
/* The note under every table of these weights. */
extern const char *const bmx_rl_pi_text;

/* How the intervals are computed, for every output. */
extern const char *const bmx_rl_interval_text;
/* "mean PM half" with prec decimals, "mean (1 seed, no interval)", or "-" when empty. */
char *bmx_rl_fmt_ci(char *buf, size_t cap, const bmx_ci *c, int prec, const char *pm);

#endif
