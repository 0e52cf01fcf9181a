/* src/run/memory.c - the memory a training run needs, counted before anything is allocated,
 * and the memory the machine has available. */
#include "bmx/run.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Saturating arithmetic: absurd configurations give UINT64_MAX, never a wrapped count. */
static uint64_t mul(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static uint64_t add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul3(uint64_t a, uint64_t b, uint64_t c)
{
    return mul(mul(a, b), c);
}

bmx_run_memory bmx_run_memory_estimate(const bmx_run_config *c, int vocab)
{
    bmx_run_memory m;
    memset(&m, 0, sizeof m);
    uint64_t C = c->width > 0 ? (uint64_t)c->width : 0, L = c->layers > 0 ? (uint64_t)c->layers : 0;
    uint64_t H = c->heads > 0 ? (uint64_t)c->heads : 0, T = c->seq > 0 ? (uint64_t)c->seq : 0;
    uint64_t B = c->batch > 0 ? (uint64_t)c->batch : 0;
    uint64_t Vp = vocab > 0 ? ((uint64_t)vocab + 63) / 64 * 64 : 0;
    uint64_t N = B * T, NC = mul(N, C), f = sizeof(float);
    /* parameters as bmx/model.h lays them out: wte, wpe, 12 C^2 + 13 C per block, ln_f */
    uint64_t block = add(mul(12, mul(C, C)), mul(13, C));
    uint64_t P = add(add(mul(Vp, C), mul(T, C)), add(mul(L, block), mul(2, C)));
    m.params = mul(P, f);
    m.grads = m.params;
    m.moments = mul(2, m.params);
    /* activations kept for backward, per block: ln1, qkv (3), atty, res2, ln2, fch, fchg,
     * fchs (4 each), res3 = 20 N C, the attention B H T T, and 4 N layer-norm statistics;
     * outside the blocks: the embedding and ln_f (2 N C), the logits N Vp, 4 N values;
     * backward scratch: 10 N C + B H T T. Plus the token copies of the model and the run's
     * batch buffers (ints in, targets; doubles token losses, reference losses): 32 N bytes. */
    uint64_t att = mul3(B, H, mul(T, T));
    uint64_t per_block = add(add(mul(20, NC), att), mul(4, N));
    uint64_t acts = add(add(mul(L, per_block), mul(2, NC)), add(mul(N, Vp), mul(4, N)));
    uint64_t dacts = add(mul(10, NC), att);
    m.activations = add(mul(add(acts, dacts), f), mul(32, N));
    /* doremi's reference model: a model of the same shape (parameters, the gradient buffer
     * every model has, activations), never trained */
    size_t nl = strcspn(c->policy ? c->policy : "", ":");
    if (nl == 6 && strncmp(c->policy, "doremi", 6) == 0)
        m.reference = add(mul(2, m.params), mul(add(acts, dacts), f));
    m.total = add(add(add(m.params, m.grads), add(m.moments, m.activations)), m.reference);
    return m;
}

uint64_t bmx_run_memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    if (f) {
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f);
    }
    if (found)
        return mul((uint64_t)kb, 1024);
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? mul((uint64_t)pages, (uint64_t)size) : 0;
}

char *bmx_run_fmt_bytes(char *buf, uint64_t bytes)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
    else
        snprintf(buf, 32, "%.1f %s", v, unit[u]);
    return buf;
}
