/* src/mix/mix_internal.h - the policy handle and what the files of src/mix/ share. */
#ifndef BMX_MIX_INTERNAL_H
#define BMX_MIX_INTERNAL_H

#include "bmx/mix.h"
#include "bmx/rng.h"

typedef enum mix_kind {
    MIX_UNIFORM,
    MIX_NATURAL,
    MIX_WEIGHTS,
    MIX_ODM,
    MIX_ODM_SM,
    MIX_EXP3,
    MIX_UCB1,
    MIX_EXPLORE,
    MIX_EXPLOIT,
    MIX_DOREMI,
    MIX_TEMPERATURE,
    MIX_ADO,
    MIX_AIOLI,
    MIX_KINDS
} mix_kind;

/* Keys a spec may set (bit flags). */
enum {
    KEY_ALPHA = 1,
    KEY_BETA = 2,
    KEY_ETA = 4,
    KEY_C = 8,
    KEY_WARMUP = 16,
    KEY_VOCAB = 32,
    KEY_TSCALE = 64,
    KEY_TAU = 128,
    KEY_INTERVAL = 256,
    KEY_ROUNDS = 512,
    KEY_PROBE = 1024,
    KEY_F = 2048,
    KEY_GAMMA = 4096,
    KEY_MINPROB = 8192, /* every policy takes min-prob and max-epochs */
    KEY_MAXEP = 16384
};
#define MIX_NKEYS 15

typedef struct mix_params {
    double alpha, beta, eta, c;
    long warmup, vocab;
    double tscale;               /* odm, exp3: eps_t is computed at tscale * t */
    double tau;                  /* temperature */
    long interval;               /* ado: U (refit interval); aioli: U (steps per round) */
    long rounds;                 /* aioli: R probe rounds */
    long probe;                  /* aioli: S steps per probe */
    double f;                    /* aioli: probe weight */
    double gamma;                /* aioli: moving-average weight of the old Abar */
    double min_prob, max_epochs; /* every policy: 0 = off */
} mix_params;

/* Per-arm arrays (k doubles each); a policy allocates, and saves, only those it uses. */
enum {
    ARR_PI,   /* pi_t, every policy */
    ARR_BASE, /* odm-smoothed-mean: warm-up and fallback distribution */
    ARR_EST,  /* R (odm*, exp3, ucb1), scores (exploit-only), alpha (doremi) */
    ARR_AUX,  /* s (exp3), n (ucb1), alpha_bar (doremi) */
    ARR_LAM,  /* lambda (doremi) */
    ARR_ACC,  /* the round's pending sums: losses (odm*), excess losses (doremi) */
    ARR_CNT,  /* the round's pending counts: observations (odm*), tokens (doremi);
                 exploit-only: 1 once an arm is scored */
    ARR_COUNT
};

struct mix_policy {
    const char *name;
    mix_kind kind;
    unsigned keys;     /* KEY_* it takes */
    unsigned arrays;   /* 1 << ARR_* it keeps */
    int needs_weights; /* natural, weights, temperature, ado */
};

#define MIX_SPEC_LEN 192

struct bmx_mix {
    const struct mix_policy *pol;
    int k;
    mix_params p;
    long t;
    bmx_rng rng;
    double *arr[ARR_COUNT]; /* NULL where the policy has none */
    double *cdf;            /* cumulative sum of pi, for draw */
    int *touched;           /* arms with pending observations this round (odm*, doremi) */
    int ntouched;
    int det;    /* >= 0: draw returns this arm without randomness (ucb1, exploit-only scoring) */
    int scored; /* exploit-only: arms scored so far */
    char spec[MIX_SPEC_LEN];
    /* section 5 constraints: draws use dpi (= pi when no constraint changes it) */
    double *dpi;
    double *tok;   /* training tokens per arm (NULL: not given) */
    double *drawn; /* tokens drawn per arm so far (saved) */
    double draw_tokens, draw_seqs;
    int exhausted; /* every arm capped by max-epochs */
    /* the policy's variable-length state (ado's histories, aioli's round), saved as is */
    double *ext;
    size_t next, ext_cap;
    bmx_mix_parallel_fn par;
    void *par_ctx;
};

/* spec.c */
void mix_defaults(const struct mix_policy *pol, mix_params *p);
const struct mix_policy *mix_policy_find(const char *name, size_t len);
const struct mix_policy *mix_policy_table(int *n);
int mix_spec_parse(const char *spec, const struct mix_policy **pol, mix_params *p, bmx_err *err);
int mix_params_check(const struct mix_policy *pol, const mix_params *p, bmx_err *err);
void mix_spec_format(const struct mix_policy *pol, const mix_params *p, char *buf, size_t cap);

/* mix.c */
int mix_alloc(bmx_mix **out, const struct mix_policy *pol, int k, bmx_err *err);
void mix_cdf_update(bmx_mix *m);
/* Recompute the state that is not saved (cdf, touched list, det, scored) from the saved
 * state; returns 0, or an error when the saved state is inconsistent. */
int mix_derive(bmx_mix *m, bmx_err *err);
/* Make room for n doubles of ext (contents kept); 0 or BMX_ENOMEM. */
int mix_ext_reserve(bmx_mix *m, size_t n, bmx_err *err);

/* ado.c (section 6) */
int mix_ado_init(bmx_mix *m, bmx_err *err);
int mix_ado_step(bmx_mix *m, bmx_err *err);
int mix_ado_check(const bmx_mix *m, bmx_err *err);
const double *mix_ado_theta(const bmx_mix *m);

/* ado_obj.c: the fit's objective at x = (a, e, alpha) over np points (log x_i, log y_i);
 * returns f and fills g[0..2]; a mix_objective with ctx = struct mix_ado_obj * */
struct mix_ado_obj {
    int np;
    const double *lx, *ly;
};
double mix_ado_objective(void *ctx, const double *x, double *g);

/* aioli.c (section 7) */
int mix_aioli_init(bmx_mix *m, const double *prior, bmx_err *err);
void mix_aioli_drawn(bmx_mix *m, int arm);
int mix_aioli_step(bmx_mix *m, bmx_err *err);
int mix_aioli_validation(bmx_mix *m, const double *loss, bmx_err *err);
int mix_aioli_needs(const bmx_mix *m);
int mix_aioli_probing(const bmx_mix *m);
int mix_aioli_check(bmx_mix *m, bmx_err *err);

/* lbfgs.c: minimise f over R^n (n <= 8) from x; see the file for the exact method */
typedef double (*mix_objective)(void *ctx, const double *x, double *grad);
int mix_lbfgs(mix_objective f, void *ctx, int n, double *x, double *fx, int max_iter, double tol);

#endif
