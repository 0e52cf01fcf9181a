/* src/eval/score.c - rank classification: log-probabilities of answer choices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bmx/eval.h"

int bmx_eval_pack(const uint32_t *prompt, size_t np, const uint32_t *ans, size_t na, int T, int pad,
                  int *inputs, int *targets)
{
    if (na == 0 || T < 1)
        return -1;
    size_t L = (size_t)T + 1; /* tokens a row can hold */
    size_t keep_a = na < L - 1 ? na : L - 1, keep_p = np;
    if (keep_p + keep_a > L)
        keep_p = L - keep_a; /* >= 1 since keep_a <= T */
    size_t len = keep_p + keep_a;
    const uint32_t *p0 = prompt + (np - keep_p);
#define SEQ(k) ((k) < keep_p ? p0[(k)] : ans[(k)-keep_p])
    int counted = 0;
    for (size_t i = 0; i < (size_t)T; i++) {
        if (i + 1 < len) {
            inputs[i] = (int)SEQ(i);
            targets[i] = i + 1 < keep_p ? -1 : (int)SEQ(i + 1);
            counted += i + 1 >= keep_p;
        } else {
            inputs[i] = pad;
            targets[i] = -1;
        }
    }
#undef SEQ
    return counted ? counted : -1;
}

int bmx_eval_pack_text(const bmx_tok *tok, const char *prompt, const char *answer, int T,
                       int *inputs, int *targets, int *counted, bmx_err *err)
{
    uint32_t *p = NULL, *a = NULL;
    size_t np = 0, na = 0, cp = 0, ca = 0;
    size_t al = strlen(answer);
    char *sp = malloc(al + 2);
    if (!sp)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    sp[0] = ' ';
    memcpy(sp + 1, answer, al + 1);
    int rc = bmx_tok_encode(tok, prompt, strlen(prompt), &p, &np, &cp, err);
    if (!rc)
        rc = bmx_tok_encode(tok, sp, al + 1, &a, &na, &ca, err);
    if (!rc) {
        int c = bmx_eval_pack(p, np, a, na, T, (int)bmx_tok_eot(tok), inputs, targets);
        if (c < 0)
            rc = bmx_err_set(err, BMX_EINVAL, "answer '%.40s' gives no tokens to score", answer);
        else if (counted)
            *counted = c;
    }
    free(sp);
    free(p);
    free(a);
    return rc;
}

static int model_fn(void *ctx, const int *inputs, const int *targets, int B, int T,
                    double *tok_loss, bmx_err *err)
{
    return bmx_model_forward(ctx, inputs, targets, B, T, NULL, NULL, tok_loss, err);
}

static bmx_eval_forward model_fw(bmx_model *m)
{
    bmx_eval_forward fw = {model_fn, m, bmx_model_config(m)->vocab};
    return fw;
}

int bmx_eval_choices(bmx_model *m, const bmx_tok *tok, const char *prompt,
                     const char *const *choices, int n, int T, double *sum, double *mean,
                     bmx_err *err)
{
    bmx_eval_forward fw = model_fw(m);
    return bmx_eval_choices_fw(&fw, tok, prompt, choices, n, T, sum, mean, err);
}

int bmx_eval_choices_fw(const bmx_eval_forward *fw, const bmx_tok *tok, const char *prompt,
                        const char *const *choices, int n, int T, double *sum, double *mean,
                        bmx_err *err)
{
    if (n < 1 || n > BMX_TASK_MAX_CHOICES)
        return bmx_err_set(err, BMX_EINVAL, "%d answer choices: need 1..%d", n,
                           BMX_TASK_MAX_CHOICES);
    if (bmx_tok_vocab_size(tok) > (uint32_t)fw->vocab)
        return bmx_err_set(err, BMX_EINVAL,
                           "the tokenizer has %u ids but the model only %d: use the tokenizer "
                           "the model was trained with",
                           bmx_tok_vocab_size(tok), fw->vocab);
    size_t N = (size_t)n * T;
    int *in = malloc(N * sizeof *in), *tg = malloc(N * sizeof *tg);
    double *tl = malloc(N * sizeof *tl);
    int rc = in && tg && tl ? 0 : bmx_err_set(err, BMX_ENOMEM, "out of memory");
    for (int c = 0; c < n && !rc; c++)
        rc = bmx_eval_pack_text(tok, prompt, choices[c], T, in + (size_t)c * T, tg + (size_t)c * T,
                                NULL, err);
    /* rows end with their answer: cut the padding every row has (same scores, less work) */
    int Tn = 1;
    for (int c = 0; c < n && !rc; c++)
        for (int i = T - 1; i >= Tn; i--)
            if (tg[(size_t)c * T + i] >= 0) {
                Tn = i + 1;
                break;
            }
    for (int c = 1; c < n && !rc && Tn < T; c++) {
        memmove(in + (size_t)c * Tn, in + (size_t)c * T, (size_t)Tn * sizeof *in);
        memmove(tg + (size_t)c * Tn, tg + (size_t)c * T, (size_t)Tn * sizeof *tg);
    }
    T = Tn;
    if (!rc)
        rc = fw->fn(fw->ctx, in, tg, n, T, tl, err);
    for (int c = 0; c < n && !rc; c++) {
        double s = 0;
        int k = 0;
        for (int i = 0; i < T; i++)
            if (tg[(size_t)c * T + i] >= 0) {
                s -= tl[(size_t)c * T + i];
                k++;
            }
        if (sum)
            sum[c] = s;
        if (mean)
            mean[c] = s / k;
    }
    free(in);
    free(tg);
    free(tl);
    return rc;
}

static int argmax(const double *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

int bmx_eval_task(bmx_model *m, const bmx_tok *tok, const bmx_task *t, const size_t *idx, size_t n,
                  int tmpl, int T, double *acc_sum, double *acc_mean, bmx_err *err)
{
    bmx_eval_forward fw = model_fw(m);
    return bmx_eval_task_fw(&fw, tok, t, idx, n, tmpl, T, acc_sum, acc_mean, err);
}

int bmx_eval_task_fw(const bmx_eval_forward *fw, const bmx_tok *tok, const bmx_task *t,
                     const size_t *idx, size_t n, int tmpl, int T, double *acc_sum,
                     double *acc_mean, bmx_err *err)
{
    if (n == 0)
        return bmx_err_set(err, BMX_EINVAL, "task %s: no examples to evaluate", bmx_task_name(t));
    double s[BMX_TASK_MAX_CHOICES], mu[BMX_TASK_MAX_CHOICES];
    size_t hs = 0, hm = 0;
    for (size_t k = 0; k < n; k++) {
        const bmx_task_example *e = bmx_task_example_at(t, idx[k]);
        char *prompt;
        int rc = bmx_task_prompt(t, idx[k], tmpl, &prompt, err);
        if (!rc)
            rc = bmx_eval_choices_fw(fw, tok, prompt, e->choices, e->nchoices, T, s, mu, err);
        free(prompt);
        if (rc)
            return rc;
        hs += argmax(s, e->nchoices) == e->correct;
        hm += argmax(mu, e->nchoices) == e->correct;
    }
    if (acc_sum)
        *acc_sum = (double)hs / n;
    if (acc_mean)
        *acc_mean = (double)hm / n;
    return 0;
}
