/* src/dist/dist.c - the process group of a data-parallel run (bmx/dist.h): MPI when built
 * with BMX_WITH_MPI, one process otherwise. Collectives are non-blocking MPI calls polled
 * with a timeout, so a dead rank cannot make the others wait forever. */
#include "bmx/dist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bmx/backend.h"

#ifdef BMX_WITH_MPI
#include <mpi.h>
#endif

#define STOP_GRACE_S  60.0
#define ORDERED_CHUNK ((size_t)1 << 20) /* floats per gather in the ordered reduction */

struct bmx_dist {
    int rank, size, local_size;
    int mpi; /* MPI_Init was called here */
    int reduce;
    int every_step;
    int failed_together;
    double timeout_s, comm_s;
    volatile const int *stop;
    bmx_logger log;
    float *gbuf, *gather;
    size_t gcap, gathercap;
};

static int env_int(const char *name, int dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || v < 1 || v > 1000000 ? dflt : (int)v;
}

int bmx_dist_built_with_mpi(void)
{
#ifdef BMX_WITH_MPI
    return 1;
#else
    return 0;
#endif
}

int bmx_dist_launched_size(void)
{
    int n = env_int("OMPI_COMM_WORLD_SIZE", 0);
    if (!n)
        n = env_int("PMI_SIZE", 0);
    if (!n)
        n = env_int("PMIX_SIZE", 0);
    return n ? n : 1;
}

uint64_t bmx_digest(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int bmx_dist_reduce_parse(const char *s, int *mode, bmx_err *err)
{
    if (!s || !*s || strcmp(s, bmx_dist_reduce_name(BMX_DIST_ALLREDUCE)) == 0)
        *mode = BMX_DIST_ALLREDUCE;
    else if (strcmp(s, bmx_dist_reduce_name(BMX_DIST_ORDERED)) == 0)
        *mode = BMX_DIST_ORDERED;
    else
        return bmx_err_set(err, BMX_EINVAL,
                           "gradient reduction '%s' is unknown: give allreduce (MPI's own, "
                           "fastest) or ordered (rank 0 sums in rank order; reproducible)",
                           s);
    return 0;
}

int bmx_dist_init(int *argc, char ***argv, bmx_dist **out, bmx_err *err)
{
    int launched = bmx_dist_launched_size();
    *out = NULL;
#ifndef BMX_WITH_MPI
    (void)argc;
    (void)argv;
    if (launched > 1)
        return bmx_err_set(err, BMX_ESTATE,
                           "started as one of %d ranks (mpirun), but this bmx was built without "
                           "MPI (no mpicc / mpi.h when it was built): install libopenmpi-dev "
                           "and rebuild (make), or run it without mpirun",
                           launched);
#endif
    bmx_dist *d = calloc(1, sizeof *d);
    if (!d)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    d->size = 1;
    d->local_size = 1;
    d->timeout_s = 900;
#ifdef BMX_WITH_MPI
    if (launched > 1) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(d);
            return bmx_err_set(err, BMX_ESTATE,
                               "MPI_Init_thread failed: start bmx with mpirun from the same Open "
                               "MPI it was built with");
        }
        d->mpi = 1;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        d->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    }
#endif
    *out = d;
    return 0;
}

void bmx_dist_finalize(bmx_dist *d)
{
    if (!d)
        return;
#ifdef BMX_WITH_MPI
    if (d->mpi)
        MPI_Finalize();
#endif
    free(d->gbuf);
    free(d->gather);
    free(d);
}

void bmx_dist_abort(bmx_dist *d, int code)
{
#ifdef BMX_WITH_MPI
    if (d && d->mpi)
        MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)d;
    (void)code;
#endif
}

int bmx_dist_rank(const bmx_dist *d)
{
    return d ? d->rank : 0;
}

int bmx_dist_size(const bmx_dist *d)
{
    return d ? d->size : 1;
}

int bmx_dist_local_size(const bmx_dist *d)
{
    return d ? d->local_size : 1;
}

int bmx_dist_threads(const bmx_dist *d, int threads)
{
    if (threads > 0 || bmx_dist_size(d) == 1 || getenv("OMP_NUM_THREADS"))
        return threads;
    long per = sysconf(_SC_NPROCESSORS_ONLN) / bmx_dist_local_size(d);
    return per > 0 ? (int)per : 1;
}

int bmx_dist_configure(bmx_dist *d, const char *reduce, double timeout, int check_every_step,
                       volatile const int *stop, const bmx_logger *lg, bmx_err *err)
{
    int mode = 0;
    if (bmx_dist_reduce_parse(reduce, &mode, err) < 0) {
        char why[BMX_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return bmx_err_set(err, BMX_EINVAL, "--reduce: %s", why);
    }
    if (!(timeout > 0))
        return bmx_err_set(err, BMX_EINVAL, "--dist-timeout %g: give seconds > 0", timeout);
    if (!d)
        return BMX_OK;
    bmx_dist_set_reduce(d, mode);
    bmx_dist_set_timeout(d, timeout);
    bmx_dist_set_check_every_step(d, check_every_step);
    bmx_dist_set_stop(d, stop);
    bmx_dist_set_logger(d, check_every_step ? lg : NULL);
    return BMX_OK;
}

void bmx_dist_set_reduce(bmx_dist *d, int mode)
{
    d->reduce = mode == BMX_DIST_ORDERED ? BMX_DIST_ORDERED : BMX_DIST_ALLREDUCE;
}

int bmx_dist_reduce_mode(const bmx_dist *d)
{
    return d ? d->reduce : BMX_DIST_ALLREDUCE;
}

const char *bmx_dist_reduce_name(int mode)
{
    return mode == BMX_DIST_ORDERED ? "ordered" : "allreduce";
}

void bmx_dist_set_timeout(bmx_dist *d, double seconds)
{
    if (seconds > 0)
        d->timeout_s = seconds;
}

void bmx_dist_set_check_every_step(bmx_dist *d, int on)
{
    d->every_step = on != 0;
}

int bmx_dist_check_every_step(const bmx_dist *d)
{
    return d ? d->every_step : 0;
}

void bmx_dist_set_stop(bmx_dist *d, volatile const int *stop)
{
    d->stop = stop;
}

void bmx_dist_set_logger(bmx_dist *d, const bmx_logger *lg)
{
    if (lg)
        d->log = *lg;
    else
        memset(&d->log, 0, sizeof d->log);
}

int bmx_dist_failed_together(const bmx_dist *d)
{
    return d ? d->failed_together : 0;
}

double bmx_dist_comm_seconds(const bmx_dist *d)
{
    return d ? d->comm_s : 0;
}

#ifdef BMX_WITH_MPI
/* Wait for a non-blocking collective: poll, sleeping a little longer each time (up to 1 ms),
 * until done, an MPI error, the timeout, or STOP_GRACE_S after the stop flag was seen. */
static int wait_req(bmx_dist *d, MPI_Request *req, const char *what, bmx_err *err)
{
    double t0 = bmx_now_s(), stop_at = 0;
    long ns = 1000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            char msg[MPI_MAX_ERROR_STRING];
            int len = 0;
            MPI_Error_string(rc, msg, &len);
            d->comm_s += bmx_now_s() - t0;
            return bmx_err_set(err, BMX_ESTATE,
                               "rank %d: MPI failed in %s: %s; another rank probably died. The "
                               "last checkpoint of the run is intact: resume it with the same "
                               "mpirun -np %d",
                               d->rank, what, msg, d->size);
        }
        if (done)
            break;
        double t = bmx_now_s();
        if (d->stop && *d->stop && stop_at == 0)
            stop_at = t;
        if (t - t0 > d->timeout_s || (stop_at > 0 && t - stop_at > STOP_GRACE_S)) {
            d->comm_s += t - t0;
            return bmx_err_set(
                err, BMX_ESTATE,
                "rank %d: %s: no answer from the other ranks after %.0f s%s: a rank died, hangs "
                "or was stopped; giving up. The last checkpoint of the run is intact: resume it "
                "with the same mpirun -np %d (--dist-timeout sets the wait)",
                d->rank, what, t - t0, stop_at > 0 ? " (stopped by a signal while waiting)" : "",
                d->size);
        }
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000)
            ns *= 2;
    }
    d->comm_s += bmx_now_s() - t0;
    return 0;
}

static int start_failed(bmx_dist *d, int rc, const char *what, bmx_err *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return bmx_err_set(err, BMX_ESTATE, "rank %d: MPI refused %s: %s", d->rank, what, msg);
}

static int iallreduce(bmx_dist *d, void *x, int n, MPI_Datatype t, MPI_Op op, const char *what,
                      bmx_err *err)
{
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, x, n, t, op, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return start_failed(d, rc, what, err);
    return wait_req(d, &req, what, err);
}

static int ibcast(bmx_dist *d, void *x, int n, MPI_Datatype t, const char *what, bmx_err *err)
{
    MPI_Request req;
    int rc = MPI_Ibcast(x, n, t, 0, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return start_failed(d, rc, what, err);
    return wait_req(d, &req, what, err);
}
#endif

int bmx_dist_sum_doubles(bmx_dist *d, double *x, size_t n, const char *what, bmx_err *err)
{
    if (!d || d->size == 1 || n == 0)
        return 0;
#ifdef BMX_WITH_MPI
    for (size_t i = 0; i < n; i += INT32_MAX / 2) {
        size_t m = n - i < INT32_MAX / 2 ? n - i : INT32_MAX / 2;
        int rc = iallreduce(d, x + i, (int)m, MPI_DOUBLE, MPI_SUM, what, err);
        if (rc)
            return rc;
    }
    return 0;
#else
    (void)x;
    (void)what;
    return bmx_err_set(err, BMX_ESTATE, "no MPI in this build");
#endif
}

int bmx_dist_sum_floats(bmx_dist *d, float *x, size_t n, const char *what, bmx_err *err)
{
    if (!d || d->size == 1 || n == 0)
        return 0;
#ifdef BMX_WITH_MPI
    int rc = 0;
    if (d->reduce == BMX_DIST_ALLREDUCE) {
        for (size_t i = 0; !rc && i < n; i += INT32_MAX / 2) {
            size_t m = n - i < INT32_MAX / 2 ? n - i : INT32_MAX / 2;
            rc = iallreduce(d, x + i, (int)m, MPI_FLOAT, MPI_SUM, what, err);
        }
        return rc;
    }
    /* ordered: chunks gathered to rank 0, summed in rank order, broadcast */
    size_t need = d->rank == 0 ? ORDERED_CHUNK * (size_t)d->size : 0;
    if (need > d->gathercap) {
        float *g = realloc(d->gather, need * sizeof *g);
        if (!g)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory for the ordered reduction");
        d->gather = g;
        d->gathercap = need;
    }
    for (size_t i = 0; !rc && i < n; i += ORDERED_CHUNK) {
        int m = (int)(n - i < ORDERED_CHUNK ? n - i : ORDERED_CHUNK);
        MPI_Request req;
        int mrc =
            MPI_Igather(x + i, m, MPI_FLOAT, d->gather, m, MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
        if (mrc != MPI_SUCCESS)
            return start_failed(d, mrc, what, err);
        if ((rc = wait_req(d, &req, what, err)))
            return rc;
        if (d->rank == 0) {
            for (int k = 0; k < m; k++) {
                float s = d->gather[k];
                for (int r = 1; r < d->size; r++)
                    s += d->gather[(size_t)r * (size_t)m + (size_t)k];
                x[i + (size_t)k] = s;
            }
        }
        rc = ibcast(d, x + i, m, MPI_FLOAT, what, err);
    }
    return rc;
#else
    (void)x;
    (void)what;
    return bmx_err_set(err, BMX_ESTATE, "no MPI in this build");
#endif
}

int bmx_dist_max_int(bmx_dist *d, int v, int *out, const char *what, bmx_err *err)
{
    *out = v;
    if (!d || d->size == 1)
        return 0;
#ifdef BMX_WITH_MPI
    return iallreduce(d, out, 1, MPI_INT, MPI_MAX, what, err);
#else
    (void)what;
    return bmx_err_set(err, BMX_ESTATE, "no MPI in this build");
#endif
}

int bmx_dist_bcast(bmx_dist *d, void *buf, size_t n, const char *what, bmx_err *err)
{
    if (!d || d->size == 1 || n == 0)
        return 0;
#ifdef BMX_WITH_MPI
    if (n > INT32_MAX)
        return bmx_err_set(err, BMX_EINVAL, "%s: %zu bytes is too much for one broadcast", what, n);
    return ibcast(d, buf, (int)n, MPI_BYTE, what, err);
#else
    (void)buf;
    (void)what;
    return bmx_err_set(err, BMX_ESTATE, "no MPI in this build");
#endif
}

int bmx_dist_agree(bmx_dist *d, int rc, bmx_err *err)
{
    if (!d || d->size == 1) {
        if (rc && d)
            d->failed_together = 1;
        return rc;
    }
    bmx_err e2 = {0};
    int first = rc ? d->rank : d->size, all = 0;
    /* the lowest failing rank: max of -first */
    if (bmx_dist_max_int(d, -first, &all, "agreeing on a status", &e2)) {
        *err = e2;
        return e2.code ? e2.code : BMX_ESTATE;
    }
    first = -all;
    if (first == d->size)
        return 0;
    struct {
        int code;
        char msg[BMX_ERR_LEN];
    } m;
    memset(&m, 0, sizeof m);
    if (d->rank == first) {
        m.code = rc;
        snprintf(m.msg, sizeof m.msg, "%s", err->msg);
    }
#ifdef BMX_WITH_MPI
    MPI_Request req;
    int mrc = MPI_Ibcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD, &req);
    if (mrc != MPI_SUCCESS)
        return start_failed(d, mrc, "sharing an error message", err);
    if ((mrc = wait_req(d, &req, "sharing an error message", &e2))) {
        *err = e2;
        return mrc;
    }
#endif
    d->failed_together = 1;
    if (first == 0 || strncmp(m.msg, "rank ", 5) == 0)
        bmx_err_set(err, m.code, "%s", m.msg);
    else
        bmx_err_set(err, m.code, "rank %d: %s", first, m.msg);
    return m.code ? m.code : BMX_ESTATE;
}

int bmx_dist_check_digest(bmx_dist *d, uint64_t digest, const char *what, bmx_err *err)
{
    if (d && d->log.fn)
        bmx_log(&d->log, BMX_LOG_INFO, "rank %d: %s digest %016llx", d->rank, what,
                (unsigned long long)digest);
    if (!d || d->size == 1)
        return 0;
    uint64_t r0 = digest;
    int rc = bmx_dist_bcast(d, &r0, sizeof r0, what, err);
    if (rc)
        return rc;
    int differ = 0;
    if ((rc = bmx_dist_max_int(d, r0 != digest, &differ, what, err)))
        return rc;
    if (!differ)
        return 0;
    /* which ranks: a bit per rank (the first 64 named) */
    double *bad = calloc((size_t)d->size, sizeof *bad);
    if (!bad)
        return bmx_err_set(err, BMX_ENOMEM, "out of memory");
    bad[d->rank] = r0 != digest;
    rc = bmx_dist_sum_doubles(d, bad, (size_t)d->size, what, err);
    char list[200] = "";
    size_t n = 0;
    for (int r = 0; !rc && r < d->size && n < sizeof list - 12; r++)
        if (bad[r] != 0)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", n ? ", " : "", r);
    free(bad);
    if (rc)
        return rc;
    d->failed_together = 1;
    return bmx_err_set(err, BMX_ESTATE,
                       "%s differs between the ranks (rank%s %s against rank 0): the ranks are "
                       "out of lockstep, stopped. Report it with the command line; the last "
                       "checkpoint is intact",
                       what, strchr(list, ',') ? "s" : "", list);
}

int bmx_dist_grads(bmx_dist *d, struct bmx_backend *be, bmx_err *err)
{
    if (!d || d->size == 1)
        return 0;
    size_t n = bmx_backend_num_params(be);
    if (n > d->gcap) {
        float *g = realloc(d->gbuf, n * sizeof *g);
        if (!g)
            return bmx_err_set(err, BMX_ENOMEM, "out of memory for a copy of the gradient");
        d->gbuf = g;
        d->gcap = n;
    }
    int rc = bmx_backend_get_grads(be, d->gbuf, err);
    if (!rc)
        rc = bmx_dist_sum_floats(d, d->gbuf, n, "the gradient all-reduce", err);
    if (rc)
        return rc;
    float nr = (float)d->size;
    for (size_t i = 0; i < n; i++)
        d->gbuf[i] /= nr;
    return bmx_backend_set_grads(be, d->gbuf, err);
}
