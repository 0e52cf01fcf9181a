/* src/cuda/matmul.cu - matrix products through cuBLASLt (see matmul.cuh).
 *
 * cuBLAS is column-major: a row-major [R][K] matrix is its column-major K x R transpose, so
 * the row-major out = inp * W^T is the column-major out^T = W^T(op) * inp^T, and so on.
 */
#include <stdint.h>

#include "kernels.cuh"
#include "matmul.cuh"

/* The largest power of two (up to 256) that divides the address: cuBLASLt is told the real
 * alignment so that it never picks an algorithm that needs more. */
static uint32_t align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && a % al)
        al >>= 1;
    return al;
}

static int lt_status(cublasStatus_t s, const char *what, bmx_err *err)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return BMX_OK;
    return bmx_err_set(err, BMX_ESTATE, "cuBLASLt %s failed: %s (status %d)", what,
                       cublasGetStatusString(s), (int)s);
}

/* The same product through cublasGemmEx, which computes in place (C = D). */
static int gemm_ex(struct bmx_lt *lt, cublasOperation_t opa, cublasOperation_t opb, int M, int N,
                   int K, const void *A, int lda, const void *B, int ldb, bmx_dt ab, const void *Cm,
                   void *D, int ldd, bmx_dt cd, float alpha, float beta, bmx_err *err)
{
    if (beta != 0 && Cm && Cm != D)
        return bmx_err_set(err, BMX_ESTATE,
                           "cuBLASLt has no algorithm for a %d x %d x %d product with C != D: "
                           "this GPU or CUDA version does not support it",
                           M, N, K);
    cublasStatus_t s = cublasGemmEx(lt->blas, opa, opb, M, N, K, &alpha, A, ab, lda, B, ab, ldb,
                                    &beta, D, cd, ldd, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        return bmx_err_set(err, BMX_ESTATE,
                           "neither cuBLASLt nor cublasGemmEx can compute a %s x %s product "
                           "(%d x %d x %d, %s inputs, %s output): %s; this GPU or CUDA version "
                           "does not support it",
                           opa == CUBLAS_OP_T ? "T" : "N", opb == CUBLAS_OP_T ? "T" : "N", M, N, K,
                           ab == CUDA_R_32F ? "fp32" : "bf16", cd == CUDA_R_32F ? "fp32" : "bf16",
                           cublasGetStatusString(s));
    return BMX_OK;
}

/* Column-major D[M][N] (ld ldd) = alpha op(A) op(B) + beta C (+ bias per row of D, length M)
 * with A, B of type ab, C and D of type cd. Returns 1 (and does nothing) when cuBLASLt has no
 * algorithm for the bias epilogue or refuses to run it, so that the caller adds the bias;
 * without a bias, a product cuBLASLt has no algorithm for goes to cublasGemmEx. */
static int lt_gemm(struct bmx_lt *lt, int ta, int tb, int M, int N, int K, const void *A, int lda,
                   const void *B, int ldb, bmx_dt ab, const void *Cm, void *D, int ldd, bmx_dt cd,
                   float alpha, float beta, const void *bias, bmx_err *err)
{
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    int rc = BMX_OK;
#define LT(call, what)                                                                             \
    do {                                                                                           \
        if ((rc = lt_status((call), (what), err)) != BMX_OK)                                       \
            goto done;                                                                             \
    } while (0)
    LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "descriptor");
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa),
       "transa");
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb),
       "transb");
    if (bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
           "epilogue");
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                          sizeof bias),
           "bias pointer");
    }
    /* Stored shapes: op(A) is M x K, op(B) is K x N. */
    LT(cublasLtMatrixLayoutCreate(&la, ab, ta ? K : M, ta ? M : K, lda), "layout A");
    LT(cublasLtMatrixLayoutCreate(&lb, ab, tb ? N : K, tb ? K : N, ldb), "layout B");
    LT(cublasLtMatrixLayoutCreate(&lc, cd, M, N, ldd), "layout C/D");
    LT(cublasLtMatmulPreferenceCreate(&pref), "preference");
    {
        uint32_t aa = align_of(A), ab_ = align_of(B), ac = align_of(Cm ? Cm : D), ad = align_of(D);
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &lt->ws_size, sizeof lt->ws_size),
           "workspace preference");
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                &aa, sizeof aa),
           "alignment A");
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                &ab_, sizeof ab_),
           "alignment B");
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                &ac, sizeof ac),
           "alignment C");
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                &ad, sizeof ad),
           "alignment D");
    }
    {
        cublasLtMatmulHeuristicResult_t heur;
        int found = 0;
        cublasStatus_t s =
            cublasLtMatmulAlgoGetHeuristic(lt->h, desc, la, lb, lc, lc, pref, 1, &heur, &found);
        if (s != CUBLAS_STATUS_SUCCESS || found < 1) {
            if (bias) {
                rc = 1; /* no algorithm with the epilogue: the caller adds the bias */
                goto done;
            }
            rc = gemm_ex(lt, opa, opb, M, N, K, A, lda, B, ldb, ab, Cm, D, ldd, cd, alpha, beta,
                         err);
            goto done;
        }
        s = cublasLtMatmul(lt->h, desc, &alpha, A, la, B, lb, &beta, Cm ? Cm : D, lc, D, lc,
                           &heur.algo, lt->ws, lt->ws_size, lt->st);
        if (s != CUBLAS_STATUS_SUCCESS && bias && s != CUBLAS_STATUS_EXECUTION_FAILED)
            rc = 1; /* refused before running (e.g. a bias alignment): the caller adds it */
        else
            LT(s, "matmul");
    }
#undef LT
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (lc)
        cublasLtMatrixLayoutDestroy(lc);
    if (lb)
        cublasLtMatrixLayoutDestroy(lb);
    if (la)
        cublasLtMatrixLayoutDestroy(la);
    if (desc)
        cublasLtMatmulDescDestroy(desc);
    return rc;
}

int lt_linear_forward(struct bmx_lt *lt, bmx_dt t, void *out, const void *inp, const void *w,
                      const void *bias, const void *resid, int N, int C, int OC, bmx_err *err)
{
    /* Column-major out^T (OC x N) = W^T (OC x C; W stored C x OC) * inp^T (C x N). */
    int rc = lt_gemm(lt, 1, 0, OC, N, C, w, C, inp, C, t, resid, out, OC, t, 1.0f,
                     resid ? 1.0f : 0.0f, bias, err);
    if (rc != 1)
        return rc;
    /* No bias epilogue for this shape: start out as resid + bias, then add the product. */
    if (t == CUDA_R_32F)
        k_bias_fill<float>(lt->st, (float *)out, (const float *)resid, (const float *)bias, N, OC);
    else
        k_bias_fill<bf16>(lt->st, (bf16 *)out, (const bf16 *)resid, (const bf16 *)bias, N, OC);
    return lt_gemm(lt, 1, 0, OC, N, C, w, C, inp, C, t, out, out, OC, t, 1.0f, 1.0f, NULL, err);
}

int lt_linear_backward(struct bmx_lt *lt, bmx_dt t, void *dinp, float *dw, const void *dout,
                       const void *inp, const void *w, int N, int C, int OC, float alpha, int acc,
                       bmx_err *err)
{
    int rc;
    /* dinp^T (C x N) = W (as stored, C x OC) * dout^T (OC x N). */
    if (dinp && (rc = lt_gemm(lt, 0, 0, C, N, OC, w, C, dout, OC, t, NULL, dinp, C, t, alpha, 0.0f,
                              NULL, err)))
        return rc;
    /* dW^T (C x OC) = inp^T (C x N) * dout (N x OC; dout^T stored OC x N, transposed). */
    return lt_gemm(lt, 0, 1, C, OC, N, inp, C, dout, OC, t, acc ? dw : NULL, dw, C, CUDA_R_32F,
                   alpha, acc ? 1.0f : 0.0f, NULL, err);
}
