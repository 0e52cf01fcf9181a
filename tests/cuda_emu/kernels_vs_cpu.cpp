/* tests/cuda_emu/kernels_vs_cpu.cpp - every kernel of src/cuda (run by the CPU emulator of
 * tests/cuda_emu/include) against the CPU kernels of bmx/kernels.h on random inputs: fp32
 * within 1e-5 norm-wise (or the stated absolute bound), bf16 attention (CUDA-core and, for
 * head size 64, tensor-core) within 3e-2 / 5e-2 of the CPU on the bf16-rounded inputs. */
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "kernels.cuh"
#include "bmx/kernels.h"

static std::mt19937 rng(7);
static std::vector<float> randn(size_t n, float sd)
{
    std::normal_distribution<float> d(0, sd);
    std::vector<float> v(n);
    for (auto &x : v)
        x = d(rng);
    return v;
}
static double relerr(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += (double)(a[i] - b[i]) * (a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return s == 0 ? (d == 0 ? 0 : 1e30) : sqrt(d / s);
}
static double maxabs(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}
static int fails = 0;
static void report(const char *what, double e, double tol)
{
    printf("%-40s %.3g %s\n", what, e, e <= tol ? "ok" : "FAIL");
    if (!(e <= tol))
        fails++;
}

static void attention(int B, int T, int C, int H, float sd)
{
    int N = B * T;
    auto qkv = randn((size_t)N * 3 * C, sd), dout = randn((size_t)N * C, 1);
    std::vector<float> out_c(N * C), att((size_t)B * H * T * T), dqkv_c((size_t)N * 3 * C),
        scratch(att.size());
    bmx_attention_forward_f(out_c.data(), att.data(), qkv.data(), B, T, C, H, 0);
    bmx_attention_backward_f(dqkv_c.data(), scratch.data(), dout.data(), qkv.data(), att.data(), B,
                             T, C, H, 0);
    std::vector<float> out_g(N * C, 123), lse((size_t)B * H * T), dd(lse.size()),
        dqkv_g((size_t)N * 3 * C, 123);
    k_attention_forward<float>(nullptr, out_g.data(), lse.data(), qkv.data(), B, T, C, H);
    k_attention_backward<float>(nullptr, dqkv_g.data(), dd.data(), dout.data(), qkv.data(),
                                out_g.data(), lse.data(), B, T, C, H);
    char l[128];
    snprintf(l, sizeof l, "attention fwd B%d T%d C%d H%d", B, T, C, H);
    report(l, relerr(out_g.data(), out_c.data(), out_c.size()), 1e-5);
    snprintf(l, sizeof l, "attention bwd B%d T%d C%d H%d", B, T, C, H);
    report(l, relerr(dqkv_g.data(), dqkv_c.data(), dqkv_c.size()), 1e-5);
    /* per part: q, k, v */
    for (int part = 0; part < 3; part++) {
        std::vector<float> a, b;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                a.push_back(dqkv_g[(size_t)n * 3 * C + part * C + c]);
                b.push_back(dqkv_c[(size_t)n * 3 * C + part * C + c]);
            }
        snprintf(l, sizeof l, "  d%c", "qkv"[part]);
        report(l, relerr(a.data(), b.data(), a.size()), 1e-5);
    }
    /* bf16 */
    std::vector<bf16> q16(qkv.size()), o16(N * C), d16(N * C), dq16(qkv.size());
    for (size_t i = 0; i < qkv.size(); i++)
        q16[i] = __float2bfloat16(qkv[i]);
    for (size_t i = 0; i < dout.size(); i++)
        d16[i] = __float2bfloat16(dout[i]);
    k_attention_forward<bf16>(nullptr, o16.data(), lse.data(), q16.data(), B, T, C, H);
    k_attention_backward<bf16>(nullptr, dq16.data(), dd.data(), d16.data(), q16.data(), o16.data(),
                               lse.data(), B, T, C, H);
    /* the CPU reference on the bf16-rounded inputs */
    std::vector<float> qr(qkv.size()), dr(dout.size());
    for (size_t i = 0; i < qr.size(); i++)
        qr[i] = __bfloat162float(q16[i]);
    for (size_t i = 0; i < dr.size(); i++)
        dr[i] = __bfloat162float(d16[i]);
    bmx_attention_forward_f(out_c.data(), att.data(), qr.data(), B, T, C, H, 0);
    bmx_attention_backward_f(dqkv_c.data(), scratch.data(), dr.data(), qr.data(), att.data(), B, T,
                             C, H, 0);
    std::vector<float> of(N * C), dqf(qkv.size());
    for (size_t i = 0; i < of.size(); i++)
        of[i] = __bfloat162float(o16[i]);
    for (size_t i = 0; i < dqf.size(); i++)
        dqf[i] = __bfloat162float(dq16[i]);
    snprintf(l, sizeof l, "  bf16 fwd");
    report(l, relerr(of.data(), out_c.data(), of.size()), 3e-2);
    snprintf(l, sizeof l, "  bf16 bwd%s", C / H == 64 ? " (tensor cores)" : "");
    report(l, relerr(dqf.data(), dqkv_c.data(), dqf.size()), 5e-2);
    for (int part = 0; part < 3; part++) {
        std::vector<float> a, b;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                a.push_back(dqf[(size_t)n * 3 * C + part * C + c]);
                b.push_back(dqkv_c[(size_t)n * 3 * C + part * C + c]);
            }
        snprintf(l, sizeof l, "    bf16 d%c", "qkv"[part]);
        report(l, relerr(a.data(), b.data(), a.size()), 5e-2);
    }
}

static void layernorm(int N, int C, int acc)
{
    auto x = randn((size_t)N * C, 2), w = randn(C, 1), b = randn(C, 1),
         dout = randn((size_t)N * C, 1);
    std::vector<float> oc(N * C), mc(N), rc(N), og(N * C), mg(N), rg(N);
    bmx_layernorm_forward_f(oc.data(), mc.data(), rc.data(), x.data(), w.data(), b.data(), N, C);
    k_layernorm_forward<float>(nullptr, og.data(), mg.data(), rg.data(), x.data(), w.data(),
                               b.data(), N, C);
    report("layernorm fwd", relerr(og.data(), oc.data(), oc.size()), 1e-6);
    report("layernorm mean", relerr(mg.data(), mc.data(), N), 1e-6);
    report("layernorm rstd", relerr(rg.data(), rc.data(), N), 1e-6);
    auto di0 = randn((size_t)N * C, 1), dw0 = randn(C, 1), db0 = randn(C, 1);
    auto dic = di0, dig = di0, dwc = dw0, dwg = dw0, dbc = db0, dbg = db0;
    std::vector<float> part(2 * k_colsum_splits(N) * C);
    bmx_layernorm_backward_f(dic.data(), dwc.data(), dbc.data(), dout.data(), x.data(), w.data(),
                             mc.data(), rc.data(), N, C, acc);
    k_layernorm_backward<float>(nullptr, dig.data(), dwg.data(), dbg.data(), part.data(),
                                dout.data(), x.data(), w.data(), mg.data(), rg.data(), N, C, acc);
    report("layernorm bwd dinp", relerr(dig.data(), dic.data(), dic.size()), 1e-5);
    report("layernorm bwd dw", relerr(dwg.data(), dwc.data(), C), 1e-5);
    report("layernorm bwd db", relerr(dbg.data(), dbc.data(), C), 1e-5);
}

static void bias(int N, int OC, int acc)
{
    auto dout = randn((size_t)N * OC, 1), db0 = randn(OC, 1), inp = randn((size_t)N * 3, 1),
         w = randn((size_t)OC * 3, 1);
    auto dbc = db0, dbg = db0;
    std::vector<float> dw(OC * 3), part(k_colsum_splits(N) * OC);
    bmx_matmul_backward_f(nullptr, dw.data(), dbc.data(), dout.data(), inp.data(), w.data(), N, 3,
                          OC, acc, 0);
    k_bias_backward<float>(nullptr, dbg.data(), part.data(), dout.data(), N, OC, acc);
    report("bias bwd", relerr(dbg.data(), dbc.data(), OC), 1e-5);
}

static void gelu(size_t n)
{
    auto x = randn(n, 3), d = randn(n, 1);
    std::vector<float> oc(n), sig(n), og(n), dc(n), dg(n);
    bmx_gelu_forward_f(oc.data(), sig.data(), x.data(), n);
    k_gelu_forward<float>(nullptr, og.data(), x.data(), n);
    report("gelu fwd", maxabs(og.data(), oc.data(), n), 1e-6);
    bmx_gelu_backward_f(dc.data(), x.data(), sig.data(), d.data(), n);
    k_gelu_backward<float>(nullptr, dg.data(), x.data(), d.data(), n);
    report("gelu bwd", maxabs(dg.data(), dc.data(), n), 1e-5);
}

static void xent(int N, int V, int Vp)
{
    auto lg = randn((size_t)N * Vp, 3);
    std::vector<int> tg(N);
    int cnt = 0;
    for (int i = 0; i < N; i++) {
        tg[i] = (i % 7 == 3) ? -1 : (int)(rng() % V);
        cnt += tg[i] >= 0;
    }
    auto lc = lg, lgg = lg;
    std::vector<float> losc(N), lse(N), losg(N);
    bmx_crossentropy_forward_f(losc.data(), lse.data(), lc.data(), tg.data(), N, V, Vp);
    bmx_crossentropy_backward_f(lc.data(), lse.data(), tg.data(), 1.0f / cnt, N, V, Vp);
    k_crossentropy<float>(nullptr, lgg.data(), losg.data(), tg.data(), N, V, Vp, 1.0f / cnt);
    report("xent losses", maxabs(losg.data(), losc.data(), N), 1e-5);
    report("xent dlogits", relerr(lgg.data(), lc.data(), lc.size()), 1e-5);
    std::vector<double> ss(2);
    k_seq_sums(nullptr, ss.data(), losg.data(), 2, N / 2);
    double s0 = 0, s1 = 0;
    for (int i = 0; i < N / 2; i++) {
        s0 += losg[i];
        s1 += losg[N / 2 + i];
    }
    report("seq sums", fabs(ss[0] - s0) + fabs(ss[1] - s1), 1e-9);
}

static void encoder(int B, int T, int C, int V, int ctx, int acc)
{
    int N = B * T;
    std::vector<int> in(N);
    for (auto &x : in)
        x = (int)(rng() % V);
    auto wte = randn((size_t)V * C, 1), wpe = randn((size_t)ctx * C, 1),
         dout = randn((size_t)N * C, 1);
    std::vector<float> oc(N * C), og(N * C);
    bmx_encoder_forward_f(oc.data(), in.data(), wte.data(), wpe.data(), B, T, C);
    k_encoder_forward<float>(nullptr, og.data(), in.data(), wte.data(), wpe.data(), N, T, C);
    report("encoder fwd", maxabs(og.data(), oc.data(), oc.size()), 0);
    /* buckets as model.cu's send_tokens */
    std::vector<int> count(V), uq, of, ps(N);
    for (int i = 0; i < N; i++)
        count[in[i]]++;
    int start = 0;
    for (int v = 0; v < V; v++) {
        if (!count[v])
            continue;
        uq.push_back(v);
        of.push_back(start);
        int c = count[v];
        count[v] = start;
        start += c;
    }
    of.push_back(start);
    for (int i = 0; i < N; i++)
        ps[count[in[i]]++] = i;
    auto g0 = randn((size_t)V * C, 1), p0 = randn((size_t)ctx * C, 1);
    auto gc = g0, gg = g0, pc = p0, pg = p0;
    bmx_encoder_backward_f(gc.data(), pc.data(), dout.data(), in.data(), B, T, C, ctx, acc);
    k_encoder_backward<float>(nullptr, gg.data(), pg.data(), dout.data(), uq.data(), of.data(),
                              ps.data(), (int)uq.size(), B, T, C, ctx, acc);
    report("encoder bwd dwte", relerr(gg.data(), gc.data(), gc.size()), 1e-6);
    report("encoder bwd dwpe", relerr(pg.data(), pc.data(), pc.size()), 1e-6);
}

int main()
{
    gelu(1000);
    xent(20, 100, 128);
    xent(6, 5000, 5056);
    encoder(3, 5, 8, 10, 7, 0);
    encoder(3, 5, 8, 10, 7, 1);
    layernorm(50, 96, 0);
    layernorm(300, 40, 1);
    bias(300, 40, 0);
    bias(300, 40, 1);
    attention(2, 17, 64, 4, 1.0f);
    attention(2, 70, 32, 1, 1.0f);
    attention(1, 130, 96, 2, 1.0f);
    attention(2, 40, 128, 1, 0.5f);
    attention(2, 130, 128, 2, 0.5f);
    attention(1, 64, 64, 1, 0.5f);
    attention(2, 17, 128, 2, 0.5f);
    attention(1, 1024, 64, 1, 0.5f); /* GPT-2's T and head size */
    printf("%d failures\n", fails);
    return fails != 0;
}
