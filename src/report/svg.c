/* SVG line and stacked-area plots (bmx/report.h). */
#include "bmx/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79",
};
#define NPALETTE    (sizeof palette / sizeof palette[0])
#define OTHER_COLOR "#c8c8c8"

enum { MARGIN_L = 72, MARGIN_R = 190, MARGIN_T = 40, MARGIN_B = 52, LEGEND_ROW = 17 };

/* Data ranges and their pixel box. */
typedef struct frame {
    double x0, x1, y0, y1;
    double px0, px1, py0, py1; /* py0 is the top edge */
    char clip[32];             /* the plot area's clipPath id, unique within the page */
} frame;

static double map_x(const frame *f, double x)
{
    return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0);
}

static double map_y(const frame *f, double y)
{
    return f->py1 - (y - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` intervals over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10.0, floor(log10(raw))), m = raw / p;

    if (m < 1.5)
        return p;
    if (m < 3.5)
        return 2 * p;
    if (m < 7.5)
        return 5 * p;
    return 10 * p;
}

static void fmt_tick(char *buf, size_t cap, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0.0;
    snprintf(buf, cap, "%.6g", v);
}

static void pad_range(double *lo, double *hi)
{
    if (!(*hi > *lo)) {
        double d = fabs(*lo) > 0 ? fabs(*lo) * 0.5 : 0.5;
        *lo -= d;
        *hi += d;
    }
}

static void begin_svg(bmx_sbuf *o, const bmx_plot *p, int w, int h)
{
    bmx_sbuf_printf(o,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
                    w, h, w, h);
    bmx_sbuf_printf(o, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
    if (p->title) {
        bmx_sbuf_printf(o,
                        "<text class=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\" "
                        "font-size=\"15\" font-weight=\"bold\">",
                        (MARGIN_L + w - MARGIN_R) / 2);
        bmx_sbuf_xml(o, p->title);
        bmx_sbuf_puts(o, "</text>\n");
    }
}

/* Grid, ticks, tick labels, the frame and the axis labels. */
static void axes(bmx_sbuf *o, const bmx_plot *p, const frame *f, int h)
{
    double xs = nice_step(f->x1 - f->x0, 6), ys = nice_step(f->y1 - f->y0, 5);
    char buf[48];

    bmx_sbuf_puts(o, "<g class=\"axes\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (double x = ceil(f->x0 / xs - 1e-9) * xs; x <= f->x1 + xs * 1e-9; x += xs)
        bmx_sbuf_printf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", map_x(f, x),
                        f->py0, map_x(f, x), f->py1);
    for (double y = ceil(f->y0 / ys - 1e-9) * ys; y <= f->y1 + ys * 1e-9; y += ys)
        bmx_sbuf_printf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", f->px0,
                        map_y(f, y), f->px1, map_y(f, y));
    bmx_sbuf_puts(o, "</g>\n<g class=\"ticks\" fill=\"#333\">\n");
    for (double x = ceil(f->x0 / xs - 1e-9) * xs; x <= f->x1 + xs * 1e-9; x += xs) {
        fmt_tick(buf, sizeof buf, x, xs);
        bmx_sbuf_printf(o, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n",
                        map_x(f, x), f->py1 + 16, buf);
    }
    for (double y = ceil(f->y0 / ys - 1e-9) * ys; y <= f->y1 + ys * 1e-9; y += ys) {
        fmt_tick(buf, sizeof buf, y, ys);
        bmx_sbuf_printf(o, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                        f->px0 - 6, map_y(f, y) + 4, buf);
    }
    bmx_sbuf_puts(o, "</g>\n");
    bmx_sbuf_printf(o,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                    "stroke=\"#333\"/>\n",
                    f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
    if (p->xlabel) {
        bmx_sbuf_printf(o, "<text class=\"xlabel\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">",
                        (f->px0 + f->px1) / 2, h - 12);
        bmx_sbuf_xml(o, p->xlabel);
        bmx_sbuf_puts(o, "</text>\n");
    }
    if (p->ylabel) {
        double cy = (f->py0 + f->py1) / 2;
        bmx_sbuf_printf(o,
                        "<text class=\"ylabel\" x=\"16\" y=\"%.2f\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 16 %.2f)\">",
                        cy, cy);
        bmx_sbuf_xml(o, p->ylabel);
        bmx_sbuf_puts(o, "</text>\n");
    }
}

/* Legend entry `row` at the right of the plot; returns 0 when there is no room left. */
static int legend_row(bmx_sbuf *o, const frame *f, int row, int rows_max, const char *color,
                      int area, const char *name)
{
    double x = f->px1 + 12, y = f->py0 + 8 + row * LEGEND_ROW;
    char cut[40];

    if (row >= rows_max)
        return 0;
    if (area)
        bmx_sbuf_printf(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n",
                        x, y - 4, color);
    else
        bmx_sbuf_printf(o,
                        "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                        "stroke-width=\"2.5\"/>\n",
                        x, y + 1, x + 16, y + 1, color);
    /* Long names are cut to fit the legend column. */
    snprintf(cut, sizeof cut, "%s", name);
    if (strlen(name) > 24)
        strcpy(cut + 21, "...");
    bmx_sbuf_printf(o, "<text class=\"legend\" x=\"%.2f\" y=\"%.2f\">", x + 22, y + 5);
    bmx_sbuf_xml(o, cut);
    bmx_sbuf_puts(o, "</text>\n");
    return 1;
}

static void set_box(frame *f, int w, int h)
{
    f->px0 = MARGIN_L;
    f->px1 = w - MARGIN_R;
    f->py0 = MARGIN_T;
    f->py1 = h - MARGIN_B;
}

static void size_of(const bmx_plot *p, int *w, int *h)
{
    *w = p->width > 0 ? p->width : 720;
    *h = p->height > 0 ? p->height : 420;
    if (*w < MARGIN_L + MARGIN_R + 100)
        *w = MARGIN_L + MARGIN_R + 100;
    if (*h < MARGIN_T + MARGIN_B + 80)
        *h = MARGIN_T + MARGIN_B + 80;
}

/* Consecutive runs of `per` points averaged into one (NaN where a run has no finite y). */
static size_t reduce_points(const double *x, const double *y, size_t n, double *rx, double *ry)
{
    size_t per = (n + BMX_SVG_MAX_POINTS - 1) / BMX_SVG_MAX_POINTS, m = 0;

    for (size_t i = 0; i < n; i += per, m++) {
        size_t e = i + per < n ? i + per : n, cy = 0;
        double sx = 0, sy = 0;
        for (size_t j = i; j < e; j++) {
            sx += x ? x[j] : (double)(j + 1);
            if (isfinite(y[j]))
                sy += y[j], cy++;
        }
        rx[m] = sx / (double)(e - i);
        ry[m] = cy ? sy / (double)cy : NAN;
    }
    return m;
}

/* The band of one series between i0 and i1 (exclusive), hi forward then lo back. */
static void band_poly(bmx_sbuf *out, const frame *f, const double *x, const double *lo,
                      const double *hi, size_t i0, size_t i1, const char *color)
{
    bmx_sbuf_printf(out,
                    "<polygon class=\"ci-band\" clip-path=\"url(#%s)\" fill=\"%s\" "
                    "fill-opacity=\"0.18\" stroke=\"none\" points=\"",
                    f->clip, color);
    for (size_t i = i0; i < i1; i++)
        bmx_sbuf_printf(out, "%.2f,%.2f ", map_x(f, x[i]), map_y(f, hi[i]));
    for (size_t i = i1; i-- > i0;)
        bmx_sbuf_printf(out, "%.2f,%.2f ", map_x(f, x[i]), map_y(f, lo[i]));
    bmx_sbuf_puts(out, "\"/>\n");
}

int bmx_svg_lines(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series, size_t ns,
                  bmx_err *err)
{
    return bmx_svg_lines_band(out, plot, series, NULL, ns, 0, err);
}

/* Every series has points and finite x values. */
static int check_series(const bmx_plot_series *series, size_t ns, bmx_err *err)
{
    if (ns == 0)
        return bmx_err_set(err, BMX_EINVAL, "line plot: no series to draw (pass at least one)");
    for (size_t s = 0; s < ns; s++) {
        if (series[s].n == 0 || !series[s].y)
            return bmx_err_set(err, BMX_EINVAL, "line plot: series %zu (%s) has no points", s,
                               series[s].name ? series[s].name : "unnamed");
        for (size_t i = 0; series[s].x && i < series[s].n; i++)
            if (!isfinite(series[s].x[i]))
                return bmx_err_set(err, BMX_EINVAL,
                                   "line plot: series %zu (%s) has a non-finite x at %zu", s,
                                   series[s].name ? series[s].name : "unnamed", i);
    }
    return 0;
}

/* The series reduced to at most BMX_SVG_MAX_POINTS points each (rn[s]), with their bands
 * (rlo, rhi: NULL where a series has none). */
typedef struct reduced {
    double **rx, **ry, **rlo, **rhi;
    size_t *rn, ns;
} reduced;

static void reduced_free(reduced *r)
{
    for (size_t s = 0; r->rx && r->ry && s < r->ns; s++) {
        free(r->rx[s]);
        free(r->ry[s]);
    }
    for (size_t s = 0; r->rlo && r->rhi && s < r->ns; s++) {
        free(r->rlo[s]);
        free(r->rhi[s]);
    }
    free(r->rx);
    free(r->ry);
    free(r->rn);
    free(r->rlo);
    free(r->rhi);
}

/* Series s (and its band) reduced into r, its range added to f's data range. */
static int reduce_one(reduced *r, size_t s, const bmx_plot_series *ser, const bmx_plot_band *band,
                      frame *f, bmx_err *err)
{
    size_t m = ser->n < BMX_SVG_MAX_POINTS ? ser->n : BMX_SVG_MAX_POINTS;
    r->rx[s] = malloc(m * sizeof **r->rx);
    r->ry[s] = malloc(m * sizeof **r->ry);
    if (!r->rx[s] || !r->ry[s])
        return bmx_err_set(err, BMX_ENOMEM, "line plot: out of memory");
    double *rx = r->rx[s], *ry = r->ry[s];
    size_t rn = r->rn[s] = reduce_points(ser->x, ser->y, ser->n, rx, ry);
    for (size_t i = 0; i < rn; i++) {
        f->x0 = fmin(f->x0, rx[i]);
        f->x1 = fmax(f->x1, rx[i]);
        if (isfinite(ry[i])) {
            f->y0 = fmin(f->y0, ry[i]);
            f->y1 = fmax(f->y1, ry[i]);
        }
    }
    if (!band || !band->lo || !band->hi)
        return 0;
    double *lo = r->rlo[s] = malloc(m * sizeof **r->rlo);
    double *hi = r->rhi[s] = malloc(m * sizeof **r->rhi);
    if (!lo || !hi)
        return bmx_err_set(err, BMX_ENOMEM, "line plot: out of memory");
    reduce_points(ser->x, band->lo, ser->n, rx, lo);
    reduce_points(ser->x, band->hi, ser->n, rx, hi);
    for (size_t i = 0; i < rn; i++)
        if (isfinite(lo[i]) && isfinite(hi[i])) {
            f->y0 = fmin(f->y0, fmin(lo[i], hi[i]));
            f->y1 = fmax(f->y1, fmax(lo[i], hi[i]));
        }
    return 0;
}

/* Every series reduced into r (r->ns set), f's data range from them. */
static int reduce_all(reduced *r, const bmx_plot_series *series, const bmx_plot_band *bands,
                      size_t ns, frame *f, bmx_err *err)
{
    int rc;
    r->ns = ns;
    r->rx = calloc(ns, sizeof *r->rx);
    r->ry = calloc(ns, sizeof *r->ry);
    r->rn = calloc(ns, sizeof *r->rn);
    r->rlo = calloc(ns, sizeof *r->rlo);
    r->rhi = calloc(ns, sizeof *r->rhi);
    if (!r->rx || !r->ry || !r->rn || !r->rlo || !r->rhi)
        return bmx_err_set(err, BMX_ENOMEM, "line plot: out of memory");
    for (size_t s = 0; s < ns; s++)
        if ((rc = reduce_one(r, s, &series[s], bands ? &bands[s] : NULL, f, err)))
            return rc;
    return 0;
}

/* The bands under every line: one polygon per run of points with finite bounds. */
static void draw_bands(bmx_sbuf *out, const frame *f, const reduced *r)
{
    for (size_t s = 0; s < r->ns; s++) {
        size_t i0 = 0;
        for (size_t i = 0; r->rlo[s] && i <= r->rn[s]; i++) {
            int ok = i < r->rn[s] && isfinite(r->rlo[s][i]) && isfinite(r->rhi[s][i]);
            if (ok)
                continue;
            if (i > i0)
                band_poly(out, f, r->rx[s], r->rlo[s], r->rhi[s], i0, i, palette[s % NPALETTE]);
            i0 = i + 1;
        }
    }
}

/* One path per series, lifting the pen over non-finite y. */
static void draw_lines(bmx_sbuf *out, const frame *f, const reduced *r)
{
    for (size_t s = 0; s < r->ns; s++) {
        int pen = 0;
        bmx_sbuf_printf(out,
                        "<path class=\"series\" clip-path=\"url(#%s)\" fill=\"none\" "
                        "stroke=\"%s\" stroke-width=\"1.8\" d=\"",
                        f->clip, palette[s % NPALETTE]);
        for (size_t i = 0; i < r->rn[s]; i++) {
            if (!isfinite(r->ry[s][i])) {
                pen = 0;
                continue;
            }
            bmx_sbuf_printf(out, "%s%.2f %.2f ", pen ? "L" : "M", map_x(f, r->rx[s][i]),
                            map_y(f, r->ry[s][i]));
            pen = 1;
        }
        bmx_sbuf_puts(out, "\"/>\n");
    }
}

/* The legend of a line plot: one row per series, "... and N more" when they do not fit. */
static void lines_legend(bmx_sbuf *out, const frame *f, const bmx_plot_series *series, size_t ns)
{
    int rows = (int)((f->py1 - f->py0 - 8) / LEGEND_ROW);
    for (size_t s = 0; s < ns; s++) {
        const char *name = series[s].name ? series[s].name : "series";
        if ((int)s == rows - 1 && ns > (size_t)rows) {
            char more[48];
            snprintf(more, sizeof more, "... and %zu more", ns - s);
            legend_row(out, f, (int)s, rows, "none", 1, more);
            break;
        }
        legend_row(out, f, (int)s, rows, palette[s % NPALETTE], 0, name);
    }
}

int bmx_svg_lines_band(bmx_sbuf *out, const bmx_plot *plot, const bmx_plot_series *series,
                       const bmx_plot_band *bands, size_t ns, int zero_line, bmx_err *err)
{
    static const bmx_plot none = {0};
    const bmx_plot *p = plot ? plot : &none;
    reduced r = {0};
    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 0, 0, 0, {0}};
    int w, h, rc;

    if ((rc = check_series(series, ns, err)))
        return rc;
    if ((rc = reduce_all(&r, series, bands, ns, &f, err)))
        goto done;
    if (!isfinite(f.y0)) {
        rc = bmx_err_set(err, BMX_EINVAL, "line plot: no finite y value in any series");
        goto done;
    }
    if (zero_line) {
        f.y0 = fmin(f.y0, 0.0);
        f.y1 = fmax(f.y1, 0.0);
    }
    pad_range(&f.x0, &f.x1);
    pad_range(&f.y0, &f.y1);
    double d = (f.y1 - f.y0) * 0.04;
    f.y0 -= d;
    f.y1 += d;
    size_of(p, &w, &h);
    set_box(&f, w, h);
    /* ids are global in an HTML page: where this plot starts in out names its clip area */
    snprintf(f.clip, sizeof f.clip, "plotarea%zu", out->len);
    begin_svg(out, p, w, h);
    axes(out, p, &f, h);
    bmx_sbuf_printf(out,
                    "<clipPath id=\"%s\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                    "height=\"%.2f\"/></clipPath>\n",
                    f.clip, f.px0, f.py0, f.px1 - f.px0, f.py1 - f.py0);
    draw_bands(out, &f, &r);
    if (zero_line)
        bmx_sbuf_printf(out,
                        "<line class=\"zero\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                        "stroke=\"#333\" stroke-width=\"1\" stroke-dasharray=\"5 4\"/>\n",
                        f.px0, map_y(&f, 0.0), f.px1, map_y(&f, 0.0));
    draw_lines(out, &f, &r);
    lines_legend(out, &f, series, ns);
    bmx_sbuf_puts(out, "</svg>\n");
    if (out->oom)
        rc = bmx_err_set(err, BMX_ENOMEM, "line plot: out of memory");
done:
    reduced_free(&r);
    return rc;
}

/* order[0..top-1] = the top arms by mean share (ties: lower index), then sorted by index.
 * O(k top), which is fine for the few bands a legend can show; no global state (no qsort). */
static void pick_top(const double *mean, size_t k, size_t top, size_t *order, unsigned char *taken)
{
    for (size_t b = 0; b < top; b++) {
        size_t best = k;
        for (size_t a = 0; a < k; a++)
            if (!taken[a] && (best == k || mean[a] > mean[best]))
                best = a;
        taken[best] = 1;
        order[b] = best;
    }
    for (size_t i = 1; i < top; i++)
        for (size_t j = i; j > 0 && order[j - 1] > order[j]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* Every x finite, every share finite and >= 0. */
static int check_shares(const double *x, size_t n, const double *v, size_t k, bmx_err *err)
{
    if (n == 0 || k == 0 || !v)
        return bmx_err_set(err, BMX_EINVAL, "stacked plot: nothing to draw (n = %zu, k = %zu)", n,
                           k);
    for (size_t i = 0; i < n; i++) {
        if (x && !isfinite(x[i]))
            return bmx_err_set(err, BMX_EINVAL, "stacked plot: non-finite x at row %zu", i);
        for (size_t a = 0; a < k; a++)
            if (!(v[i * k + a] >= 0) || !isfinite(v[i * k + a]))
                return bmx_err_set(err, BMX_EINVAL,
                                   "stacked plot: value of arm %zu at row %zu is %g; shares "
                                   "must be finite and >= 0",
                                   a, i, v[i * k + a]);
    }
    return 0;
}

/* A stacked plot's bands: nb bands (the last is "other" when nb < k, the top arms shown),
 * band_of[arm], order[band] = the arm it shows; m points (rows averaged in runs of per) at
 * bx, bv[r nb + b] their shares per band, cum[b m + r] the cumulative stack. */
typedef struct stack {
    size_t k, top, nb, per, m;
    size_t *order, *band_of;
    double *mean, *bx, *bv, *cum;
} stack;

static void stack_free(stack *st)
{
    free(st->mean);
    free(st->order);
    free(st->band_of);
    free(st->bx);
    free(st->bv);
    free(st->cum);
}

/* Which band each arm goes to: all arms when they fit, else the top arms by mean share (in
 * their index order) and "other". */
static int assign_bands(stack *st, size_t n, const double *v, bmx_err *err)
{
    size_t k = st->k;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < k; a++)
            st->mean[a] += v[i * k + a];
    for (size_t a = 0; a < k; a++)
        st->order[a] = a;
    if (st->nb < k) {
        unsigned char *taken = calloc(k, 1);
        if (!taken)
            return bmx_err_set(err, BMX_ENOMEM, "stacked plot: out of memory");
        pick_top(st->mean, k, st->top, st->order, taken); /* the shown arms keep their order */
        free(taken);
    }
    for (size_t a = 0; a < k; a++)
        st->band_of[a] = st->nb - 1;
    for (size_t b = 0; b < (st->nb < k ? st->top : k); b++)
        st->band_of[st->order[b]] = b;
    return 0;
}

/* Rows averaged in runs of `per`, summed into bands; then the cumulative stack and f's
 * data range. */
static void bin_rows(stack *st, const double *x, size_t n, const double *v, frame *f)
{
    size_t k = st->k, nb = st->nb, m = st->m, per = st->per;
    for (size_t r = 0; r < m; r++) {
        size_t s = r * per, e = s + per < n ? s + per : n;
        double sx = 0;
        for (size_t i = s; i < e; i++) {
            sx += x ? x[i] : (double)(i + 1);
            for (size_t a = 0; a < k; a++)
                st->bv[r * nb + st->band_of[a]] += v[i * k + a] / (double)(e - s);
        }
        st->bx[r] = sx / (double)(e - s);
    }
    f->x0 = st->bx[0];
    f->x1 = st->bx[m - 1];
    f->y0 = 0;
    f->y1 = 0;
    for (size_t r = 0; r < m; r++) {
        st->cum[r] = 0;
        for (size_t b = 0; b < nb; b++)
            st->cum[(b + 1) * m + r] = st->cum[b * m + r] + st->bv[r * nb + b];
        f->y1 = fmax(f->y1, st->cum[nb * m + r]);
    }
    if (!(f->y1 > 0))
        f->y1 = 1;
    if (m == 1) {
        f->x0 -= 0.5;
        f->x1 += 0.5;
    }
}

/* One polygon per band, from its lower to its upper edge (a full-width box for one point). */
static void draw_stack(bmx_sbuf *out, const frame *f, const stack *st)
{
    size_t m = st->m, nb = st->nb;
    const double *cum = st->cum, *bx = st->bx;
    for (size_t b = 0; b < nb; b++) {
        const char *color = (nb < st->k && b == nb - 1) ? OTHER_COLOR : palette[b % NPALETTE];
        bmx_sbuf_printf(out, "<polygon class=\"band\" fill=\"%s\" stroke=\"none\" points=\"",
                        color);
        if (m == 1) {
            bmx_sbuf_printf(out, "%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f", f->px0,
                            map_y(f, cum[(b + 1) * m]), f->px1, map_y(f, cum[(b + 1) * m]), f->px1,
                            map_y(f, cum[b * m]), f->px0, map_y(f, cum[b * m]));
        } else {
            for (size_t r = 0; r < m; r++)
                bmx_sbuf_printf(out, "%.2f,%.2f ", map_x(f, bx[r]), map_y(f, cum[(b + 1) * m + r]));
            for (size_t r = m; r-- > 0;)
                bmx_sbuf_printf(out, "%.2f,%.2f ", map_x(f, bx[r]), map_y(f, cum[b * m + r]));
        }
        bmx_sbuf_puts(out, "\"/>\n");
    }
}

/* Legend from the top of the stack down, as the bands appear. */
static void stack_legend(bmx_sbuf *out, const frame *f, const stack *st, const char *const *names)
{
    size_t nb = st->nb, k = st->k;
    int rows = (int)((f->py1 - f->py0 - 8) / LEGEND_ROW);
    for (size_t i = 0; i < nb; i++) {
        size_t b = nb - 1 - i;
        char name[64];
        const char *color = palette[b % NPALETTE];
        if (nb < k && b == nb - 1) {
            snprintf(name, sizeof name, "other (%zu arms)", k - st->top);
            color = OTHER_COLOR;
        } else if (names && names[st->order[b]]) {
            snprintf(name, sizeof name, "%s", names[st->order[b]]);
        } else {
            snprintf(name, sizeof name, "arm %zu", st->order[b]);
        }
        if (!legend_row(out, f, (int)i, rows, color, 1, name))
            break;
    }
}

int bmx_svg_stacked(bmx_sbuf *out, const bmx_plot *plot, const double *x, size_t n, const double *v,
                    size_t k, const char *const *names, size_t top, bmx_err *err)
{
    static const bmx_plot none = {0};
    const bmx_plot *p = plot ? plot : &none;
    stack st = {0};
    frame f;
    int w, h, rc;

    if ((rc = check_shares(x, n, v, k, err)))
        return rc;
    st.k = k;
    st.top = top == 0 ? 12 : top;
    st.nb = k <= st.top + 1 ? k : st.top + 1; /* bands; the last is "other" when k > top + 1 */
    st.per = (n + BMX_SVG_MAX_POINTS - 1) / BMX_SVG_MAX_POINTS;
    st.m = (n + st.per - 1) / st.per;
    st.mean = calloc(k, sizeof *st.mean);
    st.order = malloc(k * sizeof *st.order);
    st.band_of = malloc(k * sizeof *st.band_of);
    st.bx = calloc(st.m, sizeof *st.bx);
    st.bv = calloc(st.m * st.nb, sizeof *st.bv);
    st.cum = malloc((st.nb + 1) * st.m * sizeof *st.cum);
    if (!st.mean || !st.order || !st.band_of || !st.bx || !st.bv || !st.cum) {
        rc = bmx_err_set(err, BMX_ENOMEM, "stacked plot: out of memory");
        goto done;
    }
    if ((rc = assign_bands(&st, n, v, err)))
        goto done;
    bin_rows(&st, x, n, v, &f);
    size_of(p, &w, &h);
    set_box(&f, w, h);
    begin_svg(out, p, w, h);
    axes(out, p, &f, h);
    draw_stack(out, &f, &st);
    stack_legend(out, &f, &st, names);
    bmx_sbuf_puts(out, "</svg>\n");
    if (out->oom)
        rc = bmx_err_set(err, BMX_ENOMEM, "stacked plot: out of memory");
done:
    stack_free(&st);
    return rc;
}
