/* The FLAD comparison's table and files (bmx_flad_cmp_*, bmx/report.h) on hand-made outcomes:
 * cells are mean ± sample std in %, EXP3-FLAD runs that never left uniform are named as
 * such, the zero-shot and label-prior rows and the runs that kept the base model come from
 * the reference scores and best rounds, results.jsonl has one line per run (with the
 * reference fields, null without them), the usage table ranks the arms. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/report.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b = f ? calloc(1, 1 << 16) : NULL;
    if (b && fread(b, 1, (1 << 16) - 1, f) == 0)
        b[0] = 0;
    if (f)
        fclose(f);
    return b;
}

static void test_table(void)
{
    static const char *const targets[2] = {"aa", "bb"};
    static const char *const arms[3] = {"x/0", "y/1", "z/2"};
    static const long counts[3] = {2, 7, 5};
    int use[BMX_FLAD_CMP_METHODS];
    bmx_flad_cmp *c = NULL;
    bmx_err err = {0};
    const char *text = NULL;
    char path[300];

    bmx_flad_cmp_methods("target-only,exp3", use);
    CHECK(use[0] && !use[1] && !use[2] && use[3] && !use[4]);
    bmx_flad_cmp_methods(NULL, use);
    CHECK(use[0] && use[1] && use[2] && use[3] && use[4]);
    bmx_flad_cmp_methods("exp3", use);
    CHECK(!use[0] && use[3]);
    use[0] = 1;
    CHECK_EQ_STR(bmx_flad_cmp_method(4), "ucb1");
    CHECK(bmx_flad_cmp_create(&c, targets, 1, 2, use, "ga", "exp3", 3, &err) == BMX_EINVAL);
    CHECK(bmx_flad_cmp_create(&c, targets, 2, 2, use, "ga", "exp3", 3, &err) == 0);
    /* the base model: 40% on aa, 30% on bb; the label prior: 50% and 20% on aa's splits
     * (35.0 ± 21.2), 50% twice on bb; their means 50% and 35% (42.5 ± 10.6) */
    static const bmx_flad_reference refs[2] = {{0.4, {0.3, 0.1}, {0.5, 0.2}},
                                               {0.3, {0.25, 0.75}, {0.5, 0.5}}};
    CHECK(bmx_flad_cmp_set_reference(c, 2, &refs[0], &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "no target 2");
    for (int t = 0; t < 2; t++) {
        CHECK(bmx_flad_cmp_set_reference(c, t, &refs[t], &err) == 0);
        for (int s = 0; s < 2; s++) {
            /* target-only: 0.5 and 0.7 on aa (60.0 ± 14.1), 0.2 twice on bb (20.0 ± 0.0);
             * best at round 0 (kept the base model) only on aa split 0 */
            bmx_flad_outcome r = {
                "target-only", t ? 0.2 : (s ? 0.7 : 0.5), 0.1, 10, 0, 0, 4, 0, NULL, NULL, NULL,
                t || s ? 5 : 0};
            CHECK(bmx_flad_cmp_add(c, t, s, 0, &r, &err) == 0);
            /* exp3: never left uniform on aa (8 and 9 rounds), left it once on bb; kept the
             * base model on split 0 of both */
            bmx_flad_outcome e = {"exp3", 0.25, 0.3, 8 + s, t && s, 5, 6, 3, arms, counts, NULL, s};
            CHECK(bmx_flad_cmp_add(c, t, s, 3, &e, &err) == 0);
        }
        bmx_flad_cmp_end_target(c, t);
    }
    CHECK(bmx_flad_cmp_add(c, 2, 0, 0, NULL, &err) == BMX_EINVAL);
    CHECK_MSG(bmx_flad_cmp_write(c, check_tmpdir("flad_cmp"), &text, &err) == 0, "%s", err.msg);
    CHECK_CONTAINS(text, "mean ± std over 2 splits; reward ga");
    CHECK_CONTAINS(text, "| target-only | 60.0 ± 14.1 | 20.0 ± 0.0 | 40.0 ± 7.1 |");
    CHECK_CONTAINS(text, "| EXP3-FLAD | identical to explore-only: never left uniform in 8-9 "
                         "rounds | 25.0 ± 0.0 (1 of 2 splits never left uniform) | 25.0 ± 0.0 |");
    CHECK_CONTAINS(text, "aa/s0 0 of 8, aa/s1 0 of 9, bb/s0 0 of 8, bb/s1 1 of 9");
    CHECK_CONTAINS(text, "before round 5.");
    CHECK_CONTAINS(text, "|---|---|---|---|\n| zero-shot (base model) | 40.0 | 30.0 | 35.0 |\n"
                         "| label prior | 35.0 ± 21.2 | 50.0 ± 0.0 | 42.5 ± 10.6 |\n"
                         "| target-only |");
    CHECK_CONTAINS(text, "\nRuns that kept the base model (best validation accuracy at round 0, "
                         "so their test score is the zero-shot one): target-only 1 of 4, "
                         "EXP3-FLAD 2 of 4.\n");
    /* EXP3 0.25 everywhere; target-only per split (aa, bb): s0 (0.5, 0.2), s1 (0.7, 0.2): the
     * differences of the means over targets -10 and -20 points, mean -15, s = 7.071, half
     * t_{0.975,1} s / sqrt(2) = 12.706 * 5 = 63.5 */
    CHECK_CONTAINS(text, "\nAgainst target-only, paired by split (mean over targets, method - "
                         "target-only, points; 95% t-interval over 2 splits; wins: splits where "
                         "the method scored higher): EXP3-FLAD -15.0 +- 63.5 (wins 0 of 2). (* "
                         "the interval excludes 0)\n");
    CHECK(strstr(text, "Against explore-only") == NULL); /* explore-only did not run */
    snprintf(path, sizeof path, "%s/results.jsonl", check_tmpdir("flad_cmp"));
    char *jl = slurp(path);
    CHECK(jl != NULL);
    int lines = 0;
    for (char *p = jl; p && *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 8);
    CHECK_CONTAINS(jl, "{\"target\":\"bb\",\"split\":1,\"method\":\"exp3\",\"policy\":\"exp3\","
                       "\"reward\":\"ga\",\"test_acc\":0.25,\"best_val\":0.29999999999999999,"
                       "\"rounds\":9,\"nonuniform_rounds\":1,\"min_rounds\":5,\"aux_draws\":3,"
                       "\"aux_batches\":6,\"best_round\":1,"
                       "\"zero_shot_test_acc\":0.29999999999999999,\"zero_shot_val_acc\":0.75,"
                       "\"prior_test_acc\":0.5}\n");
    CHECK_CONTAINS(jl, "{\"target\":\"aa\",\"split\":0,\"method\":\"target-only\"");
    CHECK_CONTAINS(jl,
                   "\"aux_batches\":4,\"best_round\":0,\"zero_shot_test_acc\":0.4000000000000000"
                   "2,\"zero_shot_val_acc\":0.29999999999999999,\"prior_test_acc\":0.5}\n");
    free(jl);
    snprintf(path, sizeof path, "%s/report.html", check_tmpdir("flad_cmp"));
    char *html = slurp(path);
    /* exp3's arms over 2 splits: y 14, z 10, x 4 */
    CHECK_CONTAINS(html, "<tr><td>aa</td><td>y/1 (14); z/2 (10); x/0 (4); </td></tr>");
    free(html);
    bmx_flad_cmp_free(c);
}

/* Without reference scores: no zero-shot or label-prior row, null reference fields. */
static void test_no_reference(void)
{
    static const char *const targets[2] = {"aa", "bb"};
    int use[BMX_FLAD_CMP_METHODS];
    bmx_flad_cmp *c = NULL;
    bmx_err err = {0};
    const char *text = NULL;
    char path[300];

    bmx_flad_cmp_methods("target-only", use);
    CHECK(bmx_flad_cmp_create(&c, targets, 2, 1, use, "ga", "exp3", 1, &err) == 0);
    for (int t = 0; t < 2; t++) {
        bmx_flad_outcome r = {"target-only", 0.5, 0.5, 10, 0, 0, 4, 0, NULL, NULL, NULL, 3};
        CHECK(bmx_flad_cmp_add(c, t, 0, 0, &r, &err) == 0);
        bmx_flad_cmp_end_target(c, t);
    }
    CHECK_MSG(bmx_flad_cmp_write(c, check_tmpdir("flad_cmp"), &text, &err) == 0, "%s", err.msg);
    CHECK(strstr(text, "zero-shot (base model) |") == NULL);
    CHECK(strstr(text, "| label prior |") == NULL);
    CHECK_CONTAINS(text, "|---|---|---|---|\n| target-only | 50.0 ± 0.0 | 50.0 ± 0.0 |");
    CHECK_CONTAINS(text, "kept the base model (best validation accuracy at round 0, so their "
                         "test score is the zero-shot one): target-only 0 of 2.\n");
    snprintf(path, sizeof path, "%s/results.jsonl", check_tmpdir("flad_cmp"));
    char *jl = slurp(path);
    CHECK(jl != NULL);
    CHECK_CONTAINS(jl, "\"best_round\":3,\"zero_shot_test_acc\":null,\"zero_shot_val_acc\":null,"
                       "\"prior_test_acc\":null}\n");
    free(jl);
    bmx_flad_cmp_free(c);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"table", test_table}, {"no_reference", test_no_reference}, {0}};
    return check_main(argc, argv, cases);
}
