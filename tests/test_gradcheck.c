/* Finite-difference gradient check, in double precision, of every parameter tensor.
 *
 * The double model runs the same kernel source as the float one (bmx/kernels.h). For each
 * tensor, random elements (and all of the small ones) are perturbed by +-h, h = 1e-5, and
 * the central difference (L(p+h) - L(p-h)) / 2h compared with the backward pass:
 * |fd - grad| <= 1e-7 + 1e-6 |grad| (truncation is O(h^2), rounding O(1e-16 / h)).
 * Configurations are small and odd: T not a multiple of 8, one head, vocabulary not a
 * multiple of 64, ignored targets; both BLAS and plain-C paths.
 */
#include <math.h>

#include "bmx/model.h"
#include "check.h"

struct gc_case {
    bmx_gpt_config cfg;
    int B, T, blas;
};

static double loss_at(bmx_model *m, const int *in, const int *tg, int B, int T)
{
    double l = 0;
    bmx_err err = {0};
    CHECK_MSG(bmx_model_forward(m, in, tg, B, T, &l, NULL, NULL, &err) == 0, "%s", err.msg);
    return l;
}

static void gradcheck(struct gc_case c, uint64_t seed)
{
    bmx_model *m = NULL;
    bmx_err err = {0};
    bmx_rng rng;
    bmx_rng_seed(&rng, seed, 0);
    CHECK_MSG(bmx_model_create(&c.cfg, BMX_F64, c.blas, &m, &err) == 0, "%s", err.msg);
    bmx_model_init(m, &rng);
    double *p = bmx_model_params(m), *g = bmx_model_grads(m);
    int V = c.cfg.vocab, C = c.cfg.width;
    /* Push every parameter away from its initial value, so that LayerNorm gains, biases and
     * all weights take generic values (padded vocabulary rows stay zero). */
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(m, id);
        size_t n = id == BMX_T_WTE ? (size_t)V * C : ti.count;
        for (size_t i = 0; i < n; i++)
            p[ti.offset + i] += 0.3 * bmx_rng_normal(&rng);
    }
    int N = c.B * c.T;
    int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++) {
        in[i] = (int)bmx_rng_below(&rng, V);
        tg[i] = (int)bmx_rng_below(&rng, V);
    }
    tg[N - 2] = -1; /* ignored */
    loss_at(m, in, tg, c.B, c.T);
    CHECK_MSG(bmx_model_backward(m, 1.0, 0, &err) == 0, "%s", err.msg);
    size_t np = bmx_model_num_params(m);
    double *an = malloc(np * sizeof(double));
    memcpy(an, g, np * sizeof(double));

    const double h = 1e-5;
    for (int id = 0; id < BMX_NTENSORS; id++) {
        bmx_tensor_info ti = bmx_model_tensor(m, id);
        size_t n = id == BMX_T_WTE ? (size_t)V * C : ti.count;
        int k = n <= 24 ? (int)n : 12;
        for (int j = 0; j < k; j++) {
            size_t i = ti.offset + (n <= 24 ? (size_t)j : bmx_rng_below(&rng, n));
            double keep = p[i];
            p[i] = keep + h;
            double lp = loss_at(m, in, tg, c.B, c.T);
            p[i] = keep - h;
            double lm = loss_at(m, in, tg, c.B, c.T);
            p[i] = keep;
            double fd = (lp - lm) / (2 * h);
            CHECK_MSG(fabs(fd - an[i]) <= 1e-7 + 1e-6 * fabs(an[i]),
                      "%s[%zu]: finite difference %.10g, backward %.10g", ti.name, i - ti.offset,
                      fd, an[i]);
        }
    }
    /* Exact zeros: padded vocabulary rows and positions never used. */
    bmx_tensor_info wte = bmx_model_tensor(m, BMX_T_WTE), wpe = bmx_model_tensor(m, BMX_T_WPE);
    for (size_t i = (size_t)V * C; i < wte.count; i++)
        CHECK(an[wte.offset + i] == 0.0);
    for (size_t i = (size_t)c.T * C; i < wpe.count; i++)
        CHECK(an[wpe.offset + i] == 0.0);
    free(an);
    free(in);
    free(tg);
    bmx_model_free(m);
}

static void test_two_layers_blas(void)
{
    gradcheck((struct gc_case){{13, 7, 2, 2, 8}, 2, 5, 1}, 11);
}

static void test_two_layers_plain(void)
{
    gradcheck((struct gc_case){{13, 7, 2, 2, 8}, 2, 5, 0}, 12);
}

static void test_one_head_full_context(void)
{
    gradcheck((struct gc_case){{70, 9, 1, 1, 6}, 1, 9, 1}, 13);
}

static void test_three_heads_plain(void)
{
    gradcheck((struct gc_case){{5, 4, 1, 3, 9}, 3, 3, 0}, 14);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {{"two_layers_blas", test_two_layers_blas},
                                              {"two_layers_plain", test_two_layers_plain},
                                              {"one_head_full_context", test_one_head_full_context},
                                              {"three_heads_plain", test_three_heads_plain},
                                              {0}};
    return check_main(argc, argv, cases);
}
