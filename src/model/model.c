/* src/model/model.c - GPT-2 model: configuration, flat parameter layout, forward, backward.
 *
 * The typed forward/backward passes live in model.inc, included once per real type.
 */
#include "bmx/model.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/kernels.h"

/* Element offsets of the activations in m->acts (forward) and m->dacts (backward scratch). */
struct act_layout {
    size_t encoded, ln1, ln1m, ln1r, qkv, atty, att, res2, ln2, ln2m, ln2r, fch, fchg, fchs, res3;
    size_t lnf, lnfm, lnfr, logits, lse, losses, total;
    size_t att_layer; /* B*H*T*T */
    size_t dres, dln, datty, dqkv, dfch, datt, dtotal;
};

struct bmx_model {
    bmx_gpt_config cfg;
    int Vp, dtype, blas;
    size_t esz; /* bytes per element */
    bmx_tensor_info t[BMX_NTENSORS];
    size_t nparams;
    void *params, *grads;
    /* State of the last forward. */
    int B, T;
    int has_targets, can_backward;
    long n_counted;
    int *inputs, *targets; /* copies, [B*T] */
    size_t tok_cap;        /* capacity of inputs/targets */
    void *acts, *dacts;
    size_t acts_cap, dacts_cap; /* elements */
};

static const char *const tensor_names[BMX_NTENSORS] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"};

int bmx_gpt_vocab_padded(int vocab)
{
    return (vocab + 63) / 64 * 64;
}

bmx_gpt_config bmx_gpt_config_gpt2(void)
{
    bmx_gpt_config c = {50257, 1024, 12, 12, 768};
    return c;
}

int bmx_gpt_config_check(const bmx_gpt_config *c, bmx_err *err)
{
    if (!c)
        return bmx_err_set(err, BMX_EINVAL, "model configuration is NULL");
    if (c->vocab < 1 || c->ctx < 1 || c->layers < 0 || c->heads < 1 || c->width < 1)
        return bmx_err_set(err, BMX_EINVAL,
                           "model configuration vocab=%d ctx=%d layers=%d heads=%d width=%d: "
                           "every value must be positive (layers may be 0)",
                           c->vocab, c->ctx, c->layers, c->heads, c->width);
    if (c->width % c->heads != 0)
        return bmx_err_set(err, BMX_EINVAL,
                           "model width %d is not a multiple of heads %d: pick a width divisible "
                           "by the number of heads",
                           c->width, c->heads);
    if (c->vocab > INT_MAX - 64 || c->width > 1 << 16 || c->ctx > 1 << 20 || c->layers > 4096)
        return bmx_err_set(err, BMX_EINVAL,
                           "model configuration too large (vocab=%d width=%d ctx=%d layers=%d)",
                           c->vocab, c->width, c->ctx, c->layers);
    return BMX_OK;
}

/* Elements of each parameter tensor of a model of configuration c. */
void bmx_gpt_param_counts(const bmx_gpt_config *c, size_t counts[BMX_NTENSORS])
{
    size_t C = (size_t)c->width, L = (size_t)c->layers;
    size_t n[BMX_NTENSORS] = {(size_t)bmx_gpt_vocab_padded(c->vocab) * C,
                              (size_t)c->ctx * C,
                              L * C,
                              L * C,
                              L * 3 * C * C,
                              L * 3 * C,
                              L * C * C,
                              L * C,
                              L * C,
                              L * C,
                              L * 4 * C * C,
                              L * 4 * C,
                              L * 4 * C * C,
                              L * C,
                              C,
                              C};
    memcpy(counts, n, sizeof n);
}

size_t bmx_gpt_num_params(const bmx_gpt_config *cfg)
{
    size_t counts[BMX_NTENSORS], n = 0;
    bmx_gpt_param_counts(cfg, counts);
    for (int i = 0; i < BMX_NTENSORS; i++)
        n += counts[i];
    return n;
}

static void layout_params(bmx_model *m)
{
    size_t counts[BMX_NTENSORS];
    size_t off = 0;
    bmx_gpt_param_counts(&m->cfg, counts);
    for (int i = 0; i < BMX_NTENSORS; i++) {
        m->t[i].name = tensor_names[i];
        m->t[i].offset = off;
        m->t[i].count = counts[i];
        m->t[i].matrix = i == BMX_T_WTE || i == BMX_T_WPE || i == BMX_T_QKVW ||
                         i == BMX_T_ATTPROJW || i == BMX_T_FCW || i == BMX_T_FCPROJW;
        off += counts[i];
    }
    m->nparams = off;
}

static struct act_layout layout_acts(const bmx_model *m, int B, int T)
{
    struct act_layout a;
    size_t N = (size_t)B * T, C = (size_t)m->cfg.width, L = (size_t)m->cfg.layers;
    size_t H = (size_t)m->cfg.heads, NC = N * C, off = 0;
    a.att_layer = (size_t)B * H * T * T;
#define TAKE(field, n)                                                                             \
    do {                                                                                           \
        a.field = off;                                                                             \
        off += (n);                                                                                \
    } while (0)
    TAKE(encoded, NC);
    TAKE(ln1, L * NC);
    TAKE(ln1m, L * N);
    TAKE(ln1r, L * N);
    TAKE(qkv, L * 3 * NC);
    TAKE(atty, L * NC);
    TAKE(att, L * a.att_layer);
    TAKE(res2, L * NC);
    TAKE(ln2, L * NC);
    TAKE(ln2m, L * N);
    TAKE(ln2r, L * N);
    TAKE(fch, L * 4 * NC);
    TAKE(fchg, L * 4 * NC);
    TAKE(fchs, L * 4 * NC);
    TAKE(res3, L * NC);
    TAKE(lnf, NC);
    TAKE(lnfm, N);
    TAKE(lnfr, N);
    TAKE(logits, N * (size_t)m->Vp);
    TAKE(lse, N);
    TAKE(losses, N);
    a.total = off;
    off = 0;
    TAKE(dres, NC);
    TAKE(dln, NC);
    TAKE(datty, NC);
    TAKE(dqkv, 3 * NC);
    TAKE(dfch, 4 * NC);
    TAKE(datt, a.att_layer);
    a.dtotal = off;
#undef TAKE
    return a;
}

#define R        float
#define FN(name) name##_f
#include "model.inc"
#undef R
#undef FN
#define R        double
#define FN(name) name##_d
#include "model.inc"
#undef R
#undef FN

int bmx_model_create(const bmx_gpt_config *cfg, int dtype, int blas, bmx_model **out, bmx_err *err)
{
    int rc = bmx_gpt_config_check(cfg, err);
    if (rc)
        return rc;
    if (dtype != BMX_F32 && dtype != BMX_F64)
        return bmx_err_set(err, BMX_EINVAL, "model dtype %d: use BMX_F32 or BMX_F64", dtype);
    if (blas && (rc = bmx_kernels_check_blas(err)))
        return rc;
    bmx_model *m = calloc(1, sizeof *m);
    if (!m)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory creating the model");
    m->cfg = *cfg;
    m->Vp = bmx_gpt_vocab_padded(cfg->vocab);
    m->dtype = dtype;
    m->blas = blas != 0;
    m->esz = dtype == BMX_F32 ? sizeof(float) : sizeof(double);
    layout_params(m);
    m->params = calloc(m->nparams, m->esz);
    m->grads = calloc(m->nparams, m->esz);
    if (!m->params || !m->grads) {
        size_t np = m->nparams; /* read before m is freed */
        bmx_model_free(m);
        return bmx_err_set(err, BMX_ENOMEM,
                           "out of memory for %zu parameters (%zu bytes with their gradients): "
                           "choose fewer layers or a smaller width",
                           np, 2 * np * (dtype == BMX_F32 ? sizeof(float) : sizeof(double)));
    }
    *out = m;
    return BMX_OK;
}

void bmx_model_free(bmx_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m->dacts);
    free(m->inputs);
    free(m->targets);
    free(m);
}

void bmx_model_init(bmx_model *m, bmx_rng *rng)
{
    if (m->dtype == BMX_F32)
        model_init_f(m, rng);
    else
        model_init_d(m, rng);
}

const bmx_gpt_config *bmx_model_config(const bmx_model *m)
{
    return &m->cfg;
}

int bmx_model_vocab_padded(const bmx_model *m)
{
    return m->Vp;
}

int bmx_model_dtype(const bmx_model *m)
{
    return m->dtype;
}

size_t bmx_model_num_params(const bmx_model *m)
{
    return m->nparams;
}

void *bmx_model_params(bmx_model *m)
{
    return m->params;
}

void *bmx_model_grads(bmx_model *m)
{
    return m->grads;
}

bmx_tensor_info bmx_model_tensor(const bmx_model *m, int id)
{
    bmx_tensor_info none = {0};
    return id >= 0 && id < BMX_NTENSORS ? m->t[id] : none;
}

/* Grow a buffer to hold n elements of size esz (contents not kept). */
static int grow(void **buf, size_t *cap, size_t n, size_t esz)
{
    if (n <= *cap)
        return 0;
    free(*buf);
    *buf = malloc(n * esz);
    *cap = *buf ? n : 0;
    return *buf ? 0 : -1;
}

int bmx_model_forward(bmx_model *m, const int *inputs, const int *targets, int B, int T,
                      double *loss, double *seq_loss, double *tok_loss, bmx_err *err)
{
    if (B < 1 || T < 1 || T > m->cfg.ctx)
        return bmx_err_set(err, BMX_EINVAL,
                           "forward with B=%d T=%d: need B >= 1 and 1 <= T <= ctx (%d)", B, T,
                           m->cfg.ctx);
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= m->cfg.vocab)
            return bmx_err_set(err, BMX_EINVAL,
                               "input token %d at position %zu is outside the vocabulary "
                               "[0, %d)",
                               inputs[i], i, m->cfg.vocab);
        if (targets && targets[i] >= m->cfg.vocab)
            return bmx_err_set(err, BMX_EINVAL,
                               "target token %d at position %zu is outside the vocabulary "
                               "[0, %d) (use a negative target to ignore a position)",
                               targets[i], i, m->cfg.vocab);
    }
    m->can_backward = 0;
    struct act_layout a = layout_acts(m, B, T);
    size_t tcap = m->tok_cap;
    if (grow(&m->acts, &m->acts_cap, a.total, m->esz) ||
        grow(&m->dacts, &m->dacts_cap, a.dtotal, m->esz) ||
        grow((void **)&m->inputs, &tcap, N, sizeof(int)) ||
        grow((void **)&m->targets, &m->tok_cap, N, sizeof(int)))
        return bmx_err_set(err, BMX_ENOMEM,
                           "out of memory for activations of B=%d T=%d (%zu values): lower the "
                           "batch size or the sequence length",
                           B, T, a.total + a.dtotal);
    m->B = B;
    m->T = T;
    memcpy(m->inputs, inputs, N * sizeof(int));
    m->has_targets = targets != NULL;
    if (targets)
        memcpy(m->targets, targets, N * sizeof(int));
    if (m->dtype == BMX_F32)
        model_forward_f(m, &a);
    else
        model_forward_d(m, &a);
    if (targets) {
        if (m->dtype == BMX_F32)
            model_losses_f(m, &a, loss, seq_loss, tok_loss);
        else
            model_losses_d(m, &a, loss, seq_loss, tok_loss);
        m->can_backward = 1;
    }
    return BMX_OK;
}

const void *bmx_model_logits(const bmx_model *m)
{
    if (!m->acts)
        return NULL;
    struct act_layout a = layout_acts(m, m->B, m->T);
    return (const char *)m->acts + a.logits * m->esz;
}

int bmx_model_backward(bmx_model *m, double scale, int acc, bmx_err *err)
{
    if (!m->can_backward)
        return bmx_err_set(err, BMX_ESTATE,
                           "backward needs a forward with targets first (and runs once per "
                           "forward)");
    struct act_layout a = layout_acts(m, m->B, m->T);
    if (m->dtype == BMX_F32)
        model_backward_f(m, &a, scale, acc);
    else
        model_backward_d(m, &a, scale, acc);
    m->can_backward = 0;
    return BMX_OK;
}
