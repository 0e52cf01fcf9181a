/* src/cuda/model.cu - the GPT model of bmx/model.h on an NVIDIA GPU (bmx/cuda.h).
 *
 * The forward and backward passes follow src/model/model.inc step by step, with the same
 * flat parameter layout; model_pass<T> runs them for T = float (BMX_CUDA_FP32) or bf16
 * (BMX_CUDA_BF16: activations and matrix products in bf16, fp32 master parameters and
 * gradients, products and statistics accumulated in fp32).
 *
 * Tokens travel through one pinned host block (inputs, targets, and the inputs bucketed by
 * token for the deterministic embedding backward, built on the host by a counting sort) in
 * one asynchronous copy; only the B per-sequence loss sums (and per-token losses when asked
 * for) come back.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/cuda.h"
#include "cuda_int.h"
#include "kernels.cuh"
#include "matmul.cuh"

#define LT_WORKSPACE (32u << 20) /* cuBLASLt workspace, bytes */

/* Offsets of the activations: typed (T) forward and backward buffers, fp32 statistics. */
struct act_layout {
    size_t encoded, ln1, qkv, atty, res2, ln2, fch, fchg, res3, lnf, logits, total;
    size_t dres, dln, datty, dqkv, dfch, dtotal;
    size_t ln1m, ln1r, ln2m, ln2r, lnfm, lnfr, attlse, attdd, losses, part, ftotal;
};

struct bmx_cuda_model {
    bmx_gpt_config cfg;
    int Vp, prec, device, Bmax, Tmax;
    size_t esz; /* bytes per activation element */
    size_t off[BMX_NTENSORS], nparams;
    float *params, *grads; /* fp32 flat buffers (device) */
    bf16 *pbf;             /* bf16 copy of params (BMX_CUDA_BF16 only) */
    void *acts, *dacts;    /* typed activations, backward scratch */
    float *fl;             /* fp32 statistics and scratch */
    double *seqsum;        /* [Bmax] per-sequence loss sums */
    int *dtok;             /* device tokens: inputs, targets, uniq, off, pos */
    int *htok;             /* pinned host copy of the same */
    double *hseq;          /* pinned [Bmax] */
    float *hloss;          /* pinned [Bmax * Tmax] */
    int *count;            /* host [vocab], counting sort */
    long *seqcnt;          /* host [Bmax], counted tokens per sequence */
    cudaStream_t st;
    cudaEvent_t tok_ev; /* the last token copy has left htok */
    int tok_pending;
    struct bmx_lt lt;
    /* The last forward. */
    int B, T, nu, has_targets, can_backward;
    long n_counted;
};

static struct act_layout layout_acts(const bmx_gpt_config *cfg, int B, int T)
{
    struct act_layout a;
    size_t N = (size_t)B * T, C = (size_t)cfg->width, L = (size_t)cfg->layers;
    size_t H = (size_t)cfg->heads, NC = N * C, Vp = (size_t)bmx_gpt_vocab_padded(cfg->vocab);
    size_t off = 0;
#define TAKE(field, n)                                                                             \
    do {                                                                                           \
        a.field = off;                                                                             \
        off += ((n) + 63) / 64 * 64;                                                               \
    } while (0)
    TAKE(encoded, NC);
    TAKE(ln1, L * NC);
    TAKE(qkv, L * 3 * NC);
    TAKE(atty, L * NC);
    TAKE(res2, L * NC);
    TAKE(ln2, L * NC);
    TAKE(fch, L * 4 * NC);
    TAKE(fchg, L * 4 * NC);
    TAKE(res3, L * NC);
    TAKE(lnf, NC);
    TAKE(logits, N * Vp);
    a.total = off;
    off = 0;
    TAKE(dres, NC);
    TAKE(dln, NC);
    TAKE(datty, NC);
    TAKE(dqkv, 3 * NC);
    TAKE(dfch, 4 * NC);
    a.dtotal = off;
    off = 0;
    TAKE(ln1m, L * N);
    TAKE(ln1r, L * N);
    TAKE(ln2m, L * N);
    TAKE(ln2r, L * N);
    TAKE(lnfm, N);
    TAKE(lnfr, N);
    TAKE(attlse, L * H * N);
    TAKE(attdd, H * N);
    TAKE(losses, N);
    TAKE(part, (size_t)k_colsum_splits((int)N) * 4 * C);
    a.ftotal = off;
#undef TAKE
    return a;
}

/* ---- availability ---- */

extern "C" int bmx_cuda_built(void)
{
    return 1;
}

extern "C" int bmx_cuda_available(bmx_err *err)
{
    int drv = 0, rt = 0, n = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    if (drv == 0)
        return bmx_err_set(err, BMX_ESTATE,
                           "no NVIDIA driver found (libcuda is missing), so no CUDA device can be "
                           "used: install the NVIDIA "
                           "driver on a machine with an NVIDIA GPU to use --device cuda");
    if (drv < rt)
        return bmx_err_set(err, BMX_ESTATE,
                           "the NVIDIA driver supports CUDA %d.%d but bmx was built with the CUDA "
                           "%d.%d runtime: update the NVIDIA driver, or rebuild bmx with a CUDA "
                           "toolkit no newer than %d.%d",
                           drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10, drv / 1000,
                           drv % 1000 / 10);
    cudaError_t st = cudaGetDeviceCount(&n);
    if (st != cudaSuccess) {
        cudaGetLastError(); /* clear it */
        return bmx_err_set(err, BMX_ESTATE,
                           "no usable CUDA device: %s (%s); check that a GPU is present "
                           "(nvidia-smi) and visible (CUDA_VISIBLE_DEVICES)",
                           cudaGetErrorString(st), cudaGetErrorName(st));
    }
    if (n < 1)
        return bmx_err_set(err, BMX_ESTATE,
                           "no CUDA device found: check that a GPU is present (nvidia-smi) and "
                           "visible (CUDA_VISIBLE_DEVICES)");
    return BMX_OK;
}

/* ---- creation ---- */

static size_t esz_of(int prec)
{
    return prec == BMX_CUDA_BF16 ? sizeof(bf16) : sizeof(float);
}

extern "C" size_t bmx_cuda_model_bytes(const bmx_gpt_config *cfg, int prec, int B, int T)
{
    if (!cfg || bmx_gpt_config_check(cfg, NULL) || B < 1 || T < 1)
        return 0;
    size_t P = bmx_gpt_num_params(cfg), N = (size_t)B * T;
    struct act_layout a = layout_acts(cfg, B, T);
    size_t bytes = 2 * P * sizeof(float);
    if (prec == BMX_CUDA_BF16)
        bytes += P * sizeof(bf16);
    bytes += (a.total + a.dtotal) * esz_of(prec) + a.ftotal * sizeof(float);
    bytes += (size_t)B * sizeof(double) + (5 * N + 1) * sizeof(int);
    return bytes + LT_WORKSPACE + (16u << 20); /* and allocation slack */
}

extern "C" void bmx_cuda_model_free(bmx_cuda_model *m)
{
    if (!m)
        return;
    cudaSetDevice(m->device);
    if (m->st)
        cudaStreamSynchronize(m->st);
    cudaFree(m->params);
    cudaFree(m->grads);
    cudaFree(m->pbf);
    cudaFree(m->acts);
    cudaFree(m->dacts);
    cudaFree(m->fl);
    cudaFree(m->seqsum);
    cudaFree(m->dtok);
    cudaFree(m->lt.ws);
    cudaFreeHost(m->htok);
    cudaFreeHost(m->hseq);
    cudaFreeHost(m->hloss);
    if (m->lt.h)
        cublasLtDestroy(m->lt.h);
    if (m->lt.blas)
        cublasDestroy(m->lt.blas);
    if (m->tok_ev)
        cudaEventDestroy(m->tok_ev);
    if (m->st)
        cudaStreamDestroy(m->st);
    free(m->count);
    free(m->seqcnt);
    free(m);
}

static int create_buffers(bmx_cuda_model *m, bmx_err *err)
{
    size_t P = m->nparams, N = (size_t)m->Bmax * m->Tmax;
    struct act_layout a = layout_acts(&m->cfg, m->Bmax, m->Tmax);
    int rc;
#define DMALLOC(ptr, bytes, what)                                                                  \
    do {                                                                                           \
        if ((rc = cuda_status(cudaMalloc((void **)&(ptr), (bytes)), what, err)))                   \
            return rc;                                                                             \
    } while (0)
    DMALLOC(m->params, P * sizeof(float), "allocating the parameters");
    DMALLOC(m->grads, P * sizeof(float), "allocating the gradients");
    if (m->prec == BMX_CUDA_BF16)
        DMALLOC(m->pbf, P * sizeof(bf16), "allocating the bf16 parameters");
    DMALLOC(m->acts, a.total * m->esz, "allocating the activations");
    DMALLOC(m->dacts, a.dtotal * m->esz, "allocating the backward scratch");
    DMALLOC(m->fl, a.ftotal * sizeof(float), "allocating the statistics");
    DMALLOC(m->seqsum, (size_t)m->Bmax * sizeof(double), "allocating the loss sums");
    DMALLOC(m->dtok, (5 * N + 1) * sizeof(int), "allocating the token buffer");
    DMALLOC(m->lt.ws, LT_WORKSPACE, "allocating the cuBLASLt workspace");
#undef DMALLOC
    if ((rc = cuda_status(cudaMallocHost((void **)&m->htok, (5 * N + 1) * sizeof(int)),
                          "allocating pinned host memory", err)) ||
        (rc = cuda_status(cudaMallocHost((void **)&m->hseq, (size_t)m->Bmax * sizeof(double)),
                          "allocating pinned host memory", err)) ||
        (rc = cuda_status(cudaMallocHost((void **)&m->hloss, N * sizeof(float)),
                          "allocating pinned host memory", err)))
        return rc;
    m->count = (int *)calloc((size_t)m->cfg.vocab, sizeof(int));
    m->seqcnt = (long *)calloc((size_t)m->Bmax, sizeof(long));
    if (!m->count || !m->seqcnt)
        return bmx_err_set(err, BMX_ENOMEM, "out of host memory creating the GPU model");
    if ((rc = cuda_status(cudaStreamCreate(&m->st), "creating a stream", err)) ||
        (rc = cuda_status(cudaEventCreateWithFlags(&m->tok_ev, cudaEventDisableTiming),
                          "creating an event", err)))
        return rc;
    cublasStatus_t s = cublasLtCreate(&m->lt.h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return bmx_err_set(err, BMX_ESTATE, "cuBLASLt could not start: %s",
                           cublasGetStatusString(s));
    if ((s = cublasCreate(&m->lt.blas)) != CUBLAS_STATUS_SUCCESS ||
        (s = cublasSetStream(m->lt.blas, m->st)) != CUBLAS_STATUS_SUCCESS)
        return bmx_err_set(err, BMX_ESTATE, "cuBLAS could not start: %s", cublasGetStatusString(s));
    m->lt.st = m->st;
    m->lt.ws_size = LT_WORKSPACE;
    if ((rc = cuda_status(cudaMemsetAsync(m->params, 0, P * sizeof(float), m->st),
                          "zeroing the parameters", err)) ||
        (rc = cuda_status(cudaMemsetAsync(m->grads, 0, P * sizeof(float), m->st),
                          "zeroing the gradients", err)) ||
        (m->pbf && (rc = cuda_status(cudaMemsetAsync(m->pbf, 0, P * sizeof(bf16), m->st),
                                     "zeroing the parameters", err))))
        return rc;
    return cuda_status(cudaStreamSynchronize(m->st), "creating the GPU model", err);
}

extern "C" int bmx_cuda_model_create(const bmx_gpt_config *cfg, int prec, int device, int B, int T,
                                     bmx_cuda_model **out, bmx_err *err)
{
    int rc = bmx_gpt_config_check(cfg, err);
    if (rc)
        return rc;
    if (prec != BMX_CUDA_FP32 && prec != BMX_CUDA_BF16)
        return bmx_err_set(err, BMX_EINVAL,
                           "GPU precision %d: use BMX_CUDA_FP32 (0) or BMX_CUDA_BF16 (1)", prec);
    if (B < 1 || T < 1 || T > cfg->ctx)
        return bmx_err_set(err, BMX_EINVAL,
                           "GPU model for micro-batches of B=%d T=%d: need B >= 1 and "
                           "1 <= T <= ctx (%d)",
                           B, T, cfg->ctx);
    if (cfg->width / cfg->heads > BMX_ATT_MAX_HS)
        return bmx_err_set(err, BMX_EINVAL,
                           "head size %d (width %d / heads %d) is over the GPU attention's limit "
                           "of %d: use more heads",
                           cfg->width / cfg->heads, cfg->width, cfg->heads, BMX_ATT_MAX_HS);
    if ((size_t)B * T > (size_t)1 << 22 || (size_t)B * cfg->heads > 65535)
        return bmx_err_set(err, BMX_EINVAL,
                           "micro-batch B=%d x T=%d with %d heads is too large for the GPU model "
                           "(at most 2^22 tokens and B x heads <= 65535): lower B",
                           B, T, cfg->heads);
    if ((rc = bmx_cuda_available(err)))
        return rc;
    int ndev = 0;
    cudaGetDeviceCount(&ndev);
    if (device < 0 || device >= ndev)
        return bmx_err_set(err, BMX_EINVAL,
                           "CUDA device %d does not exist: this machine has %d (0..%d)", device,
                           ndev, ndev - 1);
    if ((rc = cuda_status(cudaSetDevice(device), "selecting the device", err)))
        return rc;
    size_t need = bmx_cuda_model_bytes(cfg, prec, B, T), fr = 0, tot = 0;
    if ((rc = cuda_status(cudaMemGetInfo(&fr, &tot), "reading the free device memory", err)))
        return rc;
    if (need > fr)
        return bmx_err_set(err, BMX_ENOMEM,
                           "the GPU model needs %.0f MiB of device memory for micro-batches of "
                           "B=%d x T=%d (%s; parameters, gradients, activations) but device %d "
                           "has %.0f MiB free of %.0f MiB: lower the micro-batch size or the "
                           "sequence length, or use bf16",
                           need / 1048576.0, B, T, prec == BMX_CUDA_BF16 ? "bf16" : "fp32", device,
                           fr / 1048576.0, tot / 1048576.0);
    bmx_cuda_model *m = (bmx_cuda_model *)calloc(1, sizeof *m);
    if (!m)
        return bmx_err_set(err, BMX_ENOMEM, "out of host memory creating the GPU model");
    m->cfg = *cfg;
    m->Vp = bmx_gpt_vocab_padded(cfg->vocab);
    m->prec = prec;
    m->device = device;
    m->Bmax = B;
    m->Tmax = T;
    m->esz = esz_of(prec);
    size_t cnt[BMX_NTENSORS], o = 0;
    bmx_gpt_param_counts(cfg, cnt);
    for (int i = 0; i < BMX_NTENSORS; i++) {
        m->off[i] = o;
        o += cnt[i];
    }
    m->nparams = o;
    if ((rc = create_buffers(m, err))) {
        bmx_cuda_model_free(m);
        return rc;
    }
    *out = m;
    return BMX_OK;
}

extern "C" const bmx_gpt_config *bmx_cuda_model_config(const bmx_cuda_model *m)
{
    return &m->cfg;
}

extern "C" size_t bmx_cuda_model_num_params(const bmx_cuda_model *m)
{
    return m->nparams;
}

extern "C" float *bmx_cuda_model_params_dev(bmx_cuda_model *m)
{
    return m->params;
}

extern "C" float *bmx_cuda_model_grads_dev(bmx_cuda_model *m)
{
    return m->grads;
}

extern "C" void *bmx_cuda_model_stream(bmx_cuda_model *m)
{
    return (void *)m->st;
}

extern "C" int bmx_cuda_model_device(const bmx_cuda_model *m)
{
    return m->device;
}

extern "C" int bmx_cuda_model_params_changed(bmx_cuda_model *m, bmx_err *err)
{
    int rc = cuda_status(cudaSetDevice(m->device), "selecting the device", err);
    if (rc || !m->pbf)
        return rc;
    k_to_bf16(m->st, m->pbf, m->params, m->nparams);
    return cuda_launched("refreshing the bf16 parameters", err);
}

static int copy_flat(bmx_cuda_model *m, void *dst, const void *src, cudaMemcpyKind kind,
                     const char *what, bmx_err *err)
{
    if (!dst || !src)
        return bmx_err_set(err, BMX_EINVAL, "%s: the host buffer is NULL", what);
    int rc;
    if ((rc = cuda_status(cudaSetDevice(m->device), what, err)) ||
        (rc = cuda_status(cudaMemcpyAsync(dst, src, m->nparams * sizeof(float), kind, m->st), what,
                          err)))
        return rc;
    return cuda_status(cudaStreamSynchronize(m->st), what, err);
}

extern "C" int bmx_cuda_model_set_params(bmx_cuda_model *m, const float *host, bmx_err *err)
{
    int rc =
        copy_flat(m, m->params, host, cudaMemcpyHostToDevice, "copying parameters to the GPU", err);
    return rc ? rc : bmx_cuda_model_params_changed(m, err);
}

extern "C" int bmx_cuda_model_get_params(bmx_cuda_model *m, float *host, bmx_err *err)
{
    return copy_flat(m, host, m->params, cudaMemcpyDeviceToHost, "copying parameters from the GPU",
                     err);
}

extern "C" int bmx_cuda_model_get_grads(bmx_cuda_model *m, float *host, bmx_err *err)
{
    return copy_flat(m, host, m->grads, cudaMemcpyDeviceToHost, "copying gradients from the GPU",
                     err);
}

/* ---- forward and backward ---- */

template <typename T> static bmx_dt dt_of(void);
template <> bmx_dt dt_of<float>(void)
{
    return CUDA_R_32F;
}
template <> bmx_dt dt_of<bf16>(void)
{
    return CUDA_R_16BF;
}

/* Pointers of one pass: the typed parameters the products read, the activations. */
template <typename T> struct pass {
    bmx_cuda_model *m;
    struct act_layout a;
    int B, T_, N, C, H, L, Vp;
    size_t NC;
    const T *pw; /* typed parameters (params or pbf) */
    T *A, *D;    /* activations, backward scratch */
    float *F;
    const int *inputs, *targets, *uniq, *off, *pos;

    const T *w(int id) const
    {
        return pw + m->off[id];
    }
    const float *p32(int id) const
    {
        return m->params + m->off[id];
    }
    float *g(int id) const
    {
        return m->grads + m->off[id];
    }
    T *res_in(int l) const /* the residual stream entering layer l */
    {
        return l == 0 ? A + a.encoded : A + a.res3 + (size_t)(l - 1) * NC;
    }
};

template <typename T> static pass<T> make_pass(bmx_cuda_model *m)
{
    pass<T> p;
    p.m = m;
    p.B = m->B;
    p.T_ = m->T;
    p.N = m->B * m->T;
    p.C = m->cfg.width;
    p.H = m->cfg.heads;
    p.L = m->cfg.layers;
    p.Vp = m->Vp;
    p.NC = (size_t)p.N * p.C;
    p.a = layout_acts(&m->cfg, m->B, m->T);
    p.pw = m->pbf ? (const T *)(const void *)m->pbf : (const T *)(const void *)m->params;
    p.A = (T *)m->acts;
    p.D = (T *)m->dacts;
    p.F = m->fl;
    size_t N = (size_t)p.N;
    p.inputs = m->dtok;
    p.targets = m->dtok + N;
    p.uniq = m->dtok + 2 * N;
    p.off = m->dtok + 3 * N;
    p.pos = m->dtok + 4 * N + 1;
    return p;
}

template <typename T> static int forward_t(bmx_cuda_model *m, bmx_err *err)
{
    pass<T> p = make_pass<T>(m);
    const struct act_layout &a = p.a;
    int N = p.N, C = p.C, L = p.L, rc;
    size_t NC = p.NC, CC = (size_t)C * C;
    bmx_dt dt = dt_of<T>();
    cudaStream_t st = m->st;
    T *A = p.A;
    float *F = p.F;
    k_encoder_forward<T>(st, A + a.encoded, p.inputs, p.p32(BMX_T_WTE), p.p32(BMX_T_WPE), N, p.T_,
                         C);
    for (int l = 0; l < L; l++) {
        T *res = p.res_in(l);
        T *ln1 = A + a.ln1 + l * NC, *qkv = A + a.qkv + l * 3 * NC, *atty = A + a.atty + l * NC;
        T *res2 = A + a.res2 + l * NC, *ln2 = A + a.ln2 + l * NC, *fch = A + a.fch + l * 4 * NC;
        T *fchg = A + a.fchg + l * 4 * NC, *res3 = A + a.res3 + l * NC;
        size_t ln = (size_t)l * N;
        k_layernorm_forward<T>(st, ln1, F + a.ln1m + ln, F + a.ln1r + ln, res,
                               p.p32(BMX_T_LN1W) + l * C, p.p32(BMX_T_LN1B) + l * C, N, C);
        if ((rc = lt_linear_forward(&m->lt, dt, qkv, ln1, p.w(BMX_T_QKVW) + l * 3 * CC,
                                    p.w(BMX_T_QKVB) + l * 3 * C, NULL, N, C, 3 * C, err)))
            return rc;
        k_attention_forward<T>(st, atty, F + a.attlse + ln * p.H, qkv, p.B, p.T_, C, p.H);
        if ((rc = lt_linear_forward(&m->lt, dt, res2, atty, p.w(BMX_T_ATTPROJW) + l * CC,
                                    p.w(BMX_T_ATTPROJB) + l * C, res, N, C, C, err)))
            return rc;
        k_layernorm_forward<T>(st, ln2, F + a.ln2m + ln, F + a.ln2r + ln, res2,
                               p.p32(BMX_T_LN2W) + l * C, p.p32(BMX_T_LN2B) + l * C, N, C);
        if ((rc = lt_linear_forward(&m->lt, dt, fch, ln2, p.w(BMX_T_FCW) + l * 4 * CC,
                                    p.w(BMX_T_FCB) + l * 4 * C, NULL, N, C, 4 * C, err)))
            return rc;
        k_gelu_forward<T>(st, fchg, fch, 4 * NC);
        if ((rc = lt_linear_forward(&m->lt, dt, res3, fchg, p.w(BMX_T_FCPROJW) + l * 4 * CC,
                                    p.w(BMX_T_FCPROJB) + l * C, res2, N, 4 * C, C, err)))
            return rc;
    }
    k_layernorm_forward<T>(st, A + a.lnf, F + a.lnfm, F + a.lnfr, p.res_in(L), p.p32(BMX_T_LNFW),
                           p.p32(BMX_T_LNFB), N, C);
    if ((rc = lt_linear_forward(&m->lt, dt, A + a.logits, A + a.lnf, p.w(BMX_T_WTE), NULL, NULL, N,
                                C, p.Vp, err)))
        return rc;
    if (m->has_targets) {
        float dscale = m->n_counted ? (float)(1.0 / (double)m->n_counted) : 0.0f;
        k_crossentropy<T>(st, A + a.logits, F + a.losses, p.targets, N, m->cfg.vocab, p.Vp, dscale);
        k_seq_sums(st, m->seqsum, F + a.losses, p.B, p.T_);
    }
    return cuda_launched("the forward pass", err);
}

template <typename T> static int backward_t(bmx_cuda_model *m, float scale, int acc, bmx_err *err)
{
    pass<T> p = make_pass<T>(m);
    const struct act_layout &a = p.a;
    int N = p.N, C = p.C, L = p.L, rc;
    size_t NC = p.NC, CC = (size_t)C * C;
    bmx_dt dt = dt_of<T>();
    cudaStream_t st = m->st;
    T *A = p.A, *D = p.D;
    float *F = p.F, *part = F + a.part;
    T *dres = D + a.dres, *dln = D + a.dln, *datty = D + a.datty, *dqkv = D + a.dqkv;
    T *dfch = D + a.dfch;
    /* The forward left dlogits / n_counted in place of the logits; scale enters here. */
    if ((rc = lt_linear_backward(&m->lt, dt, dln, p.g(BMX_T_WTE), A + a.logits, A + a.lnf,
                                 p.w(BMX_T_WTE), N, C, p.Vp, scale, acc, err)))
        return rc;
    if ((rc = cuda_status(cudaMemsetAsync(dres, 0, NC * m->esz, st), "the backward pass", err)))
        return rc;
    k_layernorm_backward<T>(st, dres, p.g(BMX_T_LNFW), p.g(BMX_T_LNFB), part, dln, p.res_in(L),
                            p.p32(BMX_T_LNFW), F + a.lnfm, F + a.lnfr, N, C, acc);
    for (int l = L - 1; l >= 0; l--) {
        T *res = p.res_in(l);
        T *ln1 = A + a.ln1 + l * NC, *qkv = A + a.qkv + l * 3 * NC, *atty = A + a.atty + l * NC;
        T *res2 = A + a.res2 + l * NC, *ln2 = A + a.ln2 + l * NC, *fch = A + a.fch + l * 4 * NC;
        T *fchg = A + a.fchg + l * 4 * NC;
        size_t ln = (size_t)l * N;
        if ((rc = lt_linear_backward(&m->lt, dt, dfch, p.g(BMX_T_FCPROJW) + l * 4 * CC, dres, fchg,
                                     p.w(BMX_T_FCPROJW) + l * 4 * CC, N, 4 * C, C, 1.0f, acc, err)))
            return rc;
        k_bias_backward<T>(st, p.g(BMX_T_FCPROJB) + l * C, part, dres, N, C, acc);
        k_gelu_backward<T>(st, dfch, fch, dfch, 4 * NC);
        if ((rc = lt_linear_backward(&m->lt, dt, dln, p.g(BMX_T_FCW) + l * 4 * CC, dfch, ln2,
                                     p.w(BMX_T_FCW) + l * 4 * CC, N, C, 4 * C, 1.0f, acc, err)))
            return rc;
        k_bias_backward<T>(st, p.g(BMX_T_FCB) + l * 4 * C, part, dfch, N, 4 * C, acc);
        k_layernorm_backward<T>(st, dres, p.g(BMX_T_LN2W) + l * C, p.g(BMX_T_LN2B) + l * C, part,
                                dln, res2, p.p32(BMX_T_LN2W) + l * C, F + a.ln2m + ln,
                                F + a.ln2r + ln, N, C, acc);
        if ((rc = lt_linear_backward(&m->lt, dt, datty, p.g(BMX_T_ATTPROJW) + l * CC, dres, atty,
                                     p.w(BMX_T_ATTPROJW) + l * CC, N, C, C, 1.0f, acc, err)))
            return rc;
        k_bias_backward<T>(st, p.g(BMX_T_ATTPROJB) + l * C, part, dres, N, C, acc);
        k_attention_backward<T>(st, dqkv, F + a.attdd, datty, qkv, atty, F + a.attlse + ln * p.H,
                                p.B, p.T_, C, p.H);
        if ((rc = lt_linear_backward(&m->lt, dt, dln, p.g(BMX_T_QKVW) + l * 3 * CC, dqkv, ln1,
                                     p.w(BMX_T_QKVW) + l * 3 * CC, N, C, 3 * C, 1.0f, acc, err)))
            return rc;
        k_bias_backward<T>(st, p.g(BMX_T_QKVB) + l * 3 * C, part, dqkv, N, 3 * C, acc);
        k_layernorm_backward<T>(st, dres, p.g(BMX_T_LN1W) + l * C, p.g(BMX_T_LN1B) + l * C, part,
                                dln, res, p.p32(BMX_T_LN1W) + l * C, F + a.ln1m + ln,
                                F + a.ln1r + ln, N, C, acc);
    }
    k_encoder_backward<T>(st, p.g(BMX_T_WTE), p.g(BMX_T_WPE), dres, p.uniq, p.off, p.pos, m->nu,
                          p.B, p.T_, C, m->cfg.ctx, acc);
    return cuda_launched("the backward pass", err);
}

/* Check the tokens, fill the pinned block (waiting for its previous copy to have left) and
 * send it: inputs, targets (-1 when NULL), and the inputs bucketed by token. */
static int send_tokens(bmx_cuda_model *m, const int *inputs, const int *targets, int B, int T,
                       bmx_err *err)
{
    int V = m->cfg.vocab, rc;
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return bmx_err_set(err, BMX_EINVAL,
                               "input token %d at position %zu is outside the vocabulary [0, %d)",
                               inputs[i], i, V);
        if (targets && targets[i] >= V)
            return bmx_err_set(err, BMX_EINVAL,
                               "target token %d at position %zu is outside the vocabulary "
                               "[0, %d) (use a negative target to ignore a position)",
                               targets[i], i, V);
    }
    if (m->tok_pending &&
        (rc = cuda_status(cudaEventSynchronize(m->tok_ev), "waiting for a token copy", err)))
        return rc;
    m->tok_pending = 0;
    int *in = m->htok, *tg = in + N, *uq = in + 2 * N, *of = in + 3 * N, *ps = in + 4 * N + 1;
    memcpy(in, inputs, N * sizeof(int));
    long total = 0;
    for (int b = 0; b < B; b++) {
        long c = 0;
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            tg[i] = targets && targets[i] >= 0 ? targets[i] : -1;
            c += tg[i] >= 0;
        }
        m->seqcnt[b] = c;
        total += c;
    }
    m->n_counted = total;
    /* Counting sort of the positions by input token (stable: increasing positions). */
    memset(m->count, 0, (size_t)V * sizeof(int));
    for (size_t i = 0; i < N; i++)
        m->count[in[i]]++;
    int nu = 0, start = 0;
    for (int v = 0; v < V; v++) {
        if (!m->count[v])
            continue;
        uq[nu] = v;
        of[nu] = start;
        int c = m->count[v];
        m->count[v] = start;
        start += c;
        nu++;
    }
    of[nu] = start;
    for (size_t i = 0; i < N; i++)
        ps[m->count[in[i]]++] = (int)i;
    m->nu = nu;
    if ((rc = cuda_status(cudaMemcpyAsync(m->dtok, m->htok, (5 * N + 1) * sizeof(int),
                                          cudaMemcpyHostToDevice, m->st),
                          "copying the tokens to the GPU", err)) ||
        (rc = cuda_status(cudaEventRecord(m->tok_ev, m->st), "recording an event", err)))
        return rc;
    m->tok_pending = 1;
    return BMX_OK;
}

extern "C" int bmx_cuda_model_forward(bmx_cuda_model *m, const int *inputs, const int *targets,
                                      int B, int T, double *loss, double *seq_loss,
                                      double *tok_loss, bmx_err *err)
{
    if (B < 1 || T < 1 || B > m->Bmax || T > m->Tmax)
        return bmx_err_set(err, BMX_EINVAL,
                           "GPU forward with B=%d T=%d: the model was created for micro-batches "
                           "of at most B=%d T=%d (need 1 <= B <= %d, 1 <= T <= %d)",
                           B, T, m->Bmax, m->Tmax, m->Bmax, m->Tmax);
    if (!inputs)
        return bmx_err_set(err, BMX_EINVAL, "GPU forward: the inputs are NULL");
    int rc = cuda_status(cudaSetDevice(m->device), "selecting the device", err);
    if (rc)
        return rc;
    m->can_backward = 0;
    if ((rc = send_tokens(m, inputs, targets, B, T, err)))
        return rc;
    m->B = B;
    m->T = T;
    m->has_targets = targets != NULL;
    rc = m->prec == BMX_CUDA_BF16 ? forward_t<bf16>(m, err) : forward_t<float>(m, err);
    if (rc)
        return rc;
    if (!targets)
        return BMX_OK;
    m->can_backward = 1;
    if (!loss && !seq_loss && !tok_loss)
        return BMX_OK;
    size_t N = (size_t)B * T;
    struct act_layout a = layout_acts(&m->cfg, B, T);
    if ((rc = cuda_status(cudaMemcpyAsync(m->hseq, m->seqsum, (size_t)B * sizeof(double),
                                          cudaMemcpyDeviceToHost, m->st),
                          "copying the losses from the GPU", err)) ||
        (tok_loss &&
         (rc = cuda_status(cudaMemcpyAsync(m->hloss, m->fl + a.losses, N * sizeof(float),
                                           cudaMemcpyDeviceToHost, m->st),
                           "copying the losses from the GPU", err))) ||
        (rc = cuda_status(cudaStreamSynchronize(m->st), "the forward pass", err)))
        return rc;
    double total = 0;
    for (int b = 0; b < B; b++) {
        total += m->hseq[b];
        if (seq_loss)
            seq_loss[b] = m->seqcnt[b] ? m->hseq[b] / (double)m->seqcnt[b] : 0.0;
    }
    if (loss)
        *loss = m->n_counted ? total / (double)m->n_counted : 0.0;
    if (tok_loss)
        for (size_t i = 0; i < N; i++)
            tok_loss[i] = m->hloss[i];
    return BMX_OK;
}

extern "C" int bmx_cuda_model_backward(bmx_cuda_model *m, double scale, int acc, bmx_err *err)
{
    if (!m->can_backward)
        return bmx_err_set(err, BMX_ESTATE,
                           "GPU backward needs a forward with targets first (and runs once per "
                           "forward)");
    int rc = cuda_status(cudaSetDevice(m->device), "selecting the device", err);
    if (rc)
        return rc;
    m->can_backward = 0;
    return m->prec == BMX_CUDA_BF16 ? backward_t<bf16>(m, (float)scale, acc != 0, err)
                                    : backward_t<float>(m, (float)scale, acc != 0, err);
}
