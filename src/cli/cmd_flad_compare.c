/* bmx flad-compare - every FLAD method on every target task and few-shot split, then a table
 * shaped like the FLAD paper's and an HTML report with plots. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmx/flad.h"
#include "bmx/mix.h"
#include "bmx/report.h"
#include "bmx/tasks.h"

#define MAX_T 16
#define NM    5

static const char *const methods[NM] = {"target-only", "explore-only", "exploit-only", "exp3",
                                        "ucb1"};
static const char *const rows[NM] = {"target-only", "explore-only", "exploit-only", "EXP3-FLAD",
                                     "UCB1-FLAD"};

/* The "probs" arrays of a run's log.jsonl: *n rows of k values (malloc'd). */
static double *read_probs(const char *log, int k, size_t *n)
{
    FILE *f = fopen(log, "r");
    *n = 0;
    if (!f)
        return NULL;
    size_t cap = 256;
    double *v = malloc(cap * (size_t)k * sizeof *v);
    char *line = NULL;
    size_t lc = 0;
    while (v && getline(&line, &lc, f) >= 0) {
        char *p = strstr(line, "\"probs\":[");
        if (!p)
            continue;
        p += 9;
        if (*n == cap) {
            cap *= 2;
            double *nv = realloc(v, cap * (size_t)k * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        int a;
        for (a = 0; a < k; a++) {
            char *e;
            v[*n * (size_t)k + (size_t)a] = strtod(p, &e);
            if (e == p)
                break;
            p = e + 1;
        }
        if (a == k)
            (*n)++;
    }
    free(line);
    fclose(f);
    return v;
}

/* EXP3-FLAD's cell when none of its n runs left uniform: they were explore-only draw for
 * draw, so the figure is a copy, not a tie. rounds: each run's rounds. */
static void cell_uniform(bmx_sbuf *b, const long *rounds, int n)
{
    long lo = rounds[0], hi = rounds[0];
    for (int i = 1; i < n; i++) {
        lo = rounds[i] < lo ? rounds[i] : lo;
        hi = rounds[i] > hi ? rounds[i] : hi;
    }
    bmx_sbuf_puts(b, "identical to explore-only: never left uniform in ");
    if (lo == hi)
        bmx_sbuf_printf(b, "%ld rounds", lo);
    else
        bmx_sbuf_printf(b, "%ld-%ld rounds", lo, hi);
}

static int count_zero(const long *v, int n)
{
    int z = 0;
    for (int i = 0; i < n; i++)
        z += v[i] == 0;
    return z;
}

static void cell(bmx_sbuf *b, const double *v, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    s = n > 1 ? sqrt(s / (n - 1)) : 0;
    bmx_sbuf_printf(b, "%.1f ± %.1f", 100 * m, 100 * s);
}

static void log_warn(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_WARN)
        fprintf(stderr, "bmx flad-compare: %s\n", msg);
}

int cmd_flad_compare(int argc, char **argv)
{
    bmx_flad_run_config o = bmx_flad_run_config_default();
    const char *targets = "spam,genre,sotu-party,language", *mlist = NULL;
    int splits = 5;
    double tscale = 1;
    bmx_err err = {0};
    struct cli_opt opts[] = {
        {"tasks", CLI_STR, &o.tasks, "task folder from 'bmx tasks build'"},
        {"targets", CLI_STR, &targets, "target tasks (at least 2; all are held out of every pool)"},
        {"splits", CLI_INT, &splits, "few-shot splits per target (1..5)"},
        {"methods", CLI_STR, &mlist, "subset of target-only,explore-only,exploit-only,exp3,ucb1"},
        {"reward", CLI_STR, &o.reward, "ga, gms or agg (EXP3/UCB1/exploit-only)"},
        {"params", CLI_STR, &o.params, "reward parameter subset"},
        {"init", CLI_STR, &o.init, "pre-trained checkpoint"},
        {"init-random", CLI_STR, &o.init_random, "or a random model LAYERS,HEADS,WIDTH,CTX"},
        {"tok", CLI_STR, &o.tok, "the model's vocabulary file"},
        {"out", CLI_STR, &o.out, "output folder (one run folder per target/split/method)"},
        {"batch", CLI_INT, &o.batch, "examples per batch"},
        {"seq", CLI_INT, &o.seq, "tokens per row"},
        {"rounds", CLI_INT, &o.rounds, "maximum rounds per run"},
        {"eval-every", CLI_INT, &o.eval_every, "rounds between validation evaluations"},
        {"patience", CLI_INT, &o.patience, "evaluations without improvement before stopping"},
        {"min-rounds", CLI_LONG, &o.min_rounds,
         "no early stop before this round, in every run; -1: the first round EXP3-FLAD can "
         "leave uniform, floor(K ln K / S) + 1 (K = 45, S = 1: 172)"},
        {"tscale", CLI_DOUBLE, &tscale,
         "EXP3-FLAD's time scale S (exp3:tscale=S): eps at S t; the released FLAD code's is "
         "10 G"},
        {"aux-draws", CLI_INT, &o.aux_draws, "G: auxiliary draws per round (every method)"},
        {"lr", CLI_DOUBLE, &o.lr, "AdamW learning rate"},
        {"seed", CLI_U64, &o.seed, "seed of every run"},
        {"threads", CLI_INT, &o.threads, "OpenMP/BLAS threads (0: the default)"},
        {"blas", CLI_INT, &o.blas, "1: BLAS, 0: plain C"},
        {0},
    };
    const char *usage = "usage: bmx flad-compare --tasks DIR --tok VOCAB (--init CKPT | "
                        "--init-random L,H,C,CTX) --out DIR [options]\n\n"
                        "Run every method on every target and split (finished runs are kept; "
                        "an interrupted one resumes), then write OUT/table.md, "
                        "OUT/results.jsonl and OUT/report.html.";
    int npos, r = cli_parse(argc, argv, usage, opts, NULL, 0, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (!*o.out)
        return cli_fail("flad-compare", "no output folder: give --out DIR");
    if (splits < 1 || splits > BMX_TASK_FEWSHOT_SPLITS)
        return cli_fail("flad-compare", "--splits %d: give 1..%d", splits, BMX_TASK_FEWSHOT_SPLITS);
    char tbuf[1024], *tn[MAX_T];
    int nt = 0;
    snprintf(tbuf, sizeof tbuf, "%s", targets);
    for (char *s = strtok(tbuf, ","); s && nt < MAX_T; s = strtok(NULL, ","))
        tn[nt++] = s;
    if (nt < 2)
        return cli_fail("flad-compare",
                        "--targets '%s': give at least 2 target tasks (all of them are held out "
                        "of every auxiliary pool)",
                        targets);
    int use[NM];
    for (int k = 0; k < NM; k++) {
        use[k] = !mlist;
        if (mlist) {
            const char *p = strstr(mlist, methods[k]);
            size_t l = strlen(methods[k]);
            use[k] = p && (p == mlist || p[-1] == ',') && (p[l] == 0 || p[l] == ',');
        }
    }
    char exp3spec[64] = "exp3";
    if (tscale != 1)
        snprintf(exp3spec, sizeof exp3spec, "exp3:tscale=%.15g", tscale);
    {
        bmx_mix *m = NULL;
        if (bmx_mix_create(&m, exp3spec, 2, NULL, 1, &err))
            return cli_fail("flad-compare", "--tscale: %s", err.msg);
        bmx_mix_free(m);
    }
    o.tscale = tscale;
    o.holdout = targets;
    if (bmx_file_mkdir_p(o.out, &err))
        return fprintf(stderr, "bmx flad-compare: %s\n", err.msg), 1;
    double acc[NM][MAX_T][BMX_TASK_FEWSHOT_SPLITS];
    long nonuni[NM][MAX_T][BMX_TASK_FEWSHOT_SPLITS], nrounds[NM][MAX_T][BMX_TASK_FEWSHOT_SPLITS];
    long min_used = 0;
    bmx_sbuf html = {0}, md = {0}, jl = {0}, plots = {0}, usage_tbl = {0};
    int rc = 0;
    for (int t = 0; t < nt && !rc; t++) {
        int naux = 0;
        char **anames = NULL;
        long *agg = NULL; /* arm usage of exp3 + ucb1 over the splits */
        for (int s = 0; s < splits && !rc; s++)
            for (int k = 0; k < NM && !rc; k++) {
                if (!use[k])
                    continue;
                char dir[2048], ck[2300];
                snprintf(dir, sizeof dir, "%s/%s/s%d/%s", o.out, tn[t], s, methods[k]);
                snprintf(ck, sizeof ck, "%s/config.txt", dir);
                bmx_flad_run_config ro = o;
                ro.target = tn[t];
                ro.split = s;
                ro.policy = k == 3 ? exp3spec : methods[k];
                ro.out = dir;
                struct stat st;
                bmx_flad_run_opts ropts = {0};
                ropts.resume = stat(ck, &st) == 0; /* a run started before: resumed or done */
                ropts.log = (bmx_logger){log_warn, NULL};
                bmx_flad_result res;
                fprintf(stderr, "%s split %d %s ...", tn[t], s, methods[k]);
                rc = bmx_flad_run(&ro, &ropts, &res, &err);
                if (rc) {
                    fprintf(stderr, "\nbmx flad-compare: %s\n", err.msg);
                    rc = rc == BMX_EINVAL ? 2 : 1;
                    break;
                }
                fprintf(stderr, " test %.3f (rounds %ld)\n", res.test_sum, res.rounds);
                acc[k][t][s] = res.test_sum;
                nonuni[k][t][s] = res.nonuniform;
                nrounds[k][t][s] = res.rounds;
                if (k == 3)
                    min_used = res.min_rounds;
                bmx_sbuf_printf(&jl,
                                "{\"target\":\"%s\",\"split\":%d,\"method\":\"%s\",\"policy\":"
                                "\"%s\",\"reward\":\"%s\",\"test_acc\":%.17g,\"best_val\":%.17g,"
                                "\"rounds\":%ld,\"nonuniform_rounds\":%ld,\"min_rounds\":%ld,"
                                "\"aux_draws\":%d,\"aux_batches\":%ld}\n",
                                tn[t], s, methods[k], ro.policy, o.reward, res.test_sum,
                                res.best_val, res.rounds, res.nonuniform, res.min_rounds,
                                o.aux_draws, res.aux_batches);
                if ((k == 3 || k == 4) && res.naux) {
                    if (!agg) {
                        naux = res.naux;
                        agg = calloc((size_t)naux, sizeof *agg);
                        anames = calloc((size_t)naux, sizeof *anames);
                        for (int a = 0; agg && anames && a < naux; a++)
                            anames[a] = strdup(res.arm_names[a]);
                    }
                    for (int a = 0; agg && a < naux && a < res.naux; a++)
                        agg[a] += res.arm_counts[a];
                }
                if (k == 3 && s == 0 && res.naux) {
                    char lp[2300];
                    snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
                    size_t n;
                    double *pr = read_probs(lp, res.naux, &n);
                    if (pr && n) {
                        char title[256];
                        snprintf(title, sizeof title, "%s: EXP3-FLAD arm probabilities (split 0)",
                                 tn[t]);
                        bmx_plot pl = {title, "round", "probability", 0, 0};
                        bmx_svg_stacked(&plots, &pl, NULL, n, pr, (size_t)res.naux,
                                        (const char *const *)res.arm_names, 8, &err);
                    }
                    free(pr);
                }
                bmx_flad_result_free(&res);
            }
        if (agg) {
            bmx_sbuf_printf(&usage_tbl, "<tr><td>%s</td><td>", tn[t]);
            for (int top = 0; top < 5; top++) {
                int b = -1;
                for (int a = 0; a < naux; a++)
                    if (agg[a] >= 0 && (b < 0 || agg[a] > agg[b]))
                        b = a;
                if (b < 0 || agg[b] <= 0)
                    break;
                bmx_sbuf_xml(&usage_tbl, anames[b]);
                bmx_sbuf_printf(&usage_tbl, " (%ld)%s", agg[b], top < 4 ? "; " : "");
                agg[b] = -1;
            }
            bmx_sbuf_puts(&usage_tbl, "</td></tr>\n");
        }
        for (int a = 0; anames && a < naux; a++)
            free(anames[a]);
        free(anames);
        free(agg);
    }
    if (rc) {
        bmx_sbuf_free(&html);
        bmx_sbuf_free(&md);
        bmx_sbuf_free(&jl);
        bmx_sbuf_free(&plots);
        bmx_sbuf_free(&usage_tbl);
        return rc;
    }
    /* the table: rows methods, columns targets + mean; mean ± sample std over splits, in % */
    bmx_sbuf_printf(&md,
                    "Test accuracy (%%, rank classification, mean ± std over %d split%s; "
                    "reward %s)\n\n| method |",
                    splits, splits > 1 ? "s" : "", o.reward);
    bmx_sbuf_puts(&html, "<table border=\"1\" cellpadding=\"4\"><tr><th>method</th>");
    for (int t = 0; t < nt; t++) {
        bmx_sbuf_printf(&md, " %s |", tn[t]);
        bmx_sbuf_printf(&html, "<th>%s</th>", tn[t]);
    }
    bmx_sbuf_puts(&md, " mean |\n|---|");
    bmx_sbuf_puts(&html, "<th>mean</th></tr>\n");
    for (int t = 0; t <= nt; t++)
        bmx_sbuf_puts(&md, "---|");
    bmx_sbuf_puts(&md, "\n");
    for (int k = 0; k < NM; k++) {
        if (!use[k])
            continue;
        bmx_sbuf_printf(&md, "| %s |", rows[k]);
        bmx_sbuf_printf(&html, "<tr><td>%s</td>", rows[k]);
        double means[BMX_TASK_FEWSHOT_SPLITS] = {0};
        int all_uniform = k == 3;
        for (int t = 0; t < nt; t++) {
            bmx_sbuf c = {0};
            int z = k == 3 ? count_zero(nonuni[k][t], splits) : 0;
            if (z == splits) {
                cell_uniform(&c, nrounds[k][t], splits);
            } else {
                cell(&c, acc[k][t], splits);
                if (z)
                    bmx_sbuf_printf(&c, " (%d of %d splits never left uniform)", z, splits);
            }
            all_uniform &= z == splits;
            bmx_sbuf_printf(&md, " %s |", bmx_sbuf_str(&c));
            bmx_sbuf_printf(&html, "<td>%s</td>", bmx_sbuf_str(&c));
            bmx_sbuf_free(&c);
            for (int s = 0; s < splits; s++)
                means[s] += acc[k][t][s] / nt;
        }
        bmx_sbuf c = {0};
        if (all_uniform) {
            long all[MAX_T * BMX_TASK_FEWSHOT_SPLITS];
            for (int t = 0; t < nt; t++)
                memcpy(all + t * splits, nrounds[k][t], (size_t)splits * sizeof *all);
            cell_uniform(&c, all, nt * splits);
        } else {
            cell(&c, means, splits);
        }
        bmx_sbuf_printf(&md, " %s |\n", bmx_sbuf_str(&c));
        bmx_sbuf_printf(&html, "<td>%s</td></tr>\n", bmx_sbuf_str(&c));
        bmx_sbuf_free(&c);
    }
    bmx_sbuf_puts(&html, "</table>\n");
    if (use[3]) {
        bmx_sbuf_printf(&md,
                        "\nEXP3-FLAD (%s): rounds whose distribution differed from uniform "
                        "(max |pi - 1/K| > 1e-12), of all its rounds:",
                        exp3spec);
        for (int t = 0; t < nt; t++)
            for (int s = 0; s < splits; s++)
                bmx_sbuf_printf(&md, "%s %s/s%d %ld of %ld", t || s ? "," : "", tn[t], s,
                                nonuni[3][t][s], nrounds[3][t][s]);
        bmx_sbuf_printf(&md,
                        ". Over K auxiliary datasets, EXP3 is exactly uniform - draw for draw "
                        "explore-only with the same seed - while S t <= K ln K; early stopping "
                        "could not end a run before round %ld.\n",
                        min_used);
    }
    bmx_sbuf page = {0};
    bmx_sbuf_puts(&page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bmx "
                         "flad-compare</title></head><body>\n<h1>FLAD comparison</h1>\n<p>");
    bmx_sbuf_xml(&page, bmx_sbuf_str(&md));
    bmx_sbuf_puts(&page, "</pre>\n");
    bmx_sbuf_puts(&page, bmx_sbuf_str(&html));
    bmx_sbuf_puts(&page, "<h2>Auxiliary datasets used most (EXP3 + UCB1 batches, all splits)</h2>"
                         "<table border=\"1\" cellpadding=\"4\"><tr><th>target</th><th>top "
                         "auxiliary datasets (batches)</th></tr>\n");
    bmx_sbuf_puts(&page, bmx_sbuf_str(&usage_tbl));
    bmx_sbuf_puts(&page, "</table>\n<h2>Arm probabilities over time</h2>\n");
    bmx_sbuf_puts(&page, bmx_sbuf_str(&plots));
    bmx_sbuf_puts(&page, "</body></html>\n");
    char path[2048];
    snprintf(path, sizeof path, "%s/table.md", o.out);
    rc = bmx_sbuf_save(&md, path, &err);
    snprintf(path, sizeof path, "%s/results.jsonl", o.out);
    if (!rc)
        rc = bmx_sbuf_save(&jl, path, &err);
    snprintf(path, sizeof path, "%s/report.html", o.out);
    if (!rc)
        rc = bmx_sbuf_save(&page, path, &err);
    if (rc)
        fprintf(stderr, "bmx flad-compare: %s\n", err.msg);
    else
        printf("%s\nreport: %s\n", bmx_sbuf_str(&md), path);
    bmx_sbuf_free(&page);
    bmx_sbuf_free(&html);
    bmx_sbuf_free(&md);
    bmx_sbuf_free(&jl);
    bmx_sbuf_free(&plots);
    bmx_sbuf_free(&usage_tbl);
    return rc ? 1 : 0;
}
