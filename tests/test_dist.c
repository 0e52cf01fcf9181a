/* bmx/dist.h on one process: the digest (FNV-1a 64 test vectors), the reduce-mode names, the
 * one-process group (every collective a no-op that leaves values alone, agree passing the
 * status through), the launcher's environment, and a build without MPI refusing to run as
 * one of several ranks. Under `mpirun -np 2 test_dist ranks` (tests/cli/test_dist_mpi.sh)
 * the case `ranks` checks every collective across the two ranks with known values. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/backend.h"
#include "bmx/dist.h"
#include "bmx/model.h"
#include "bmx/train.h"
#include "check.h"

static void test_digest_vectors(void)
{
    CHECK(bmx_digest(BMX_DIGEST_INIT, "", 0) == 0xcbf29ce484222325ull);
    CHECK(bmx_digest(BMX_DIGEST_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(bmx_digest(BMX_DIGEST_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    /* continuing equals one pass */
    uint64_t h = bmx_digest(BMX_DIGEST_INIT, "foo", 3);
    CHECK(bmx_digest(h, "bar", 3) == 0x85944171f73967e8ull);
}

static void test_reduce_parse(void)
{
    bmx_err err = {0};
    int m = -1;
    CHECK_EQ_INT(bmx_dist_reduce_parse("allreduce", &m, &err), 0);
    CHECK_EQ_INT(m, BMX_DIST_ALLREDUCE);
    CHECK_EQ_INT(bmx_dist_reduce_parse("ordered", &m, &err), 0);
    CHECK_EQ_INT(m, BMX_DIST_ORDERED);
    CHECK_EQ_INT(bmx_dist_reduce_parse("tree", &m, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "'tree'");
    CHECK_CONTAINS(err.msg, "ordered");
}

static void test_one_process(void)
{
    bmx_err err = {0};
    bmx_dist *d = NULL;
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_SIZE");
    CHECK_EQ_INT(bmx_dist_launched_size(), 1);
    CHECK_EQ_INT(bmx_dist_init(NULL, NULL, &d, &err), 0);
    CHECK(d != NULL);
    CHECK_EQ_INT(bmx_dist_rank(d), 0);
    CHECK_EQ_INT(bmx_dist_size(d), 1);
    /* alone: the threads asked for, 0 (OpenMP's default) included */
    CHECK_EQ_INT(bmx_dist_threads(d, 0), 0);
    CHECK_EQ_INT(bmx_dist_threads(d, 5), 5);
    CHECK_EQ_INT(bmx_dist_threads(NULL, 0), 0);
    /* the command line's settings: applied, or refused naming the option */
    volatile int stop = 0;
    CHECK_EQ_INT(bmx_dist_configure(d, "ordered", 30, 1, &stop, NULL, &err), 0);
    CHECK_EQ_INT(bmx_dist_reduce_mode(d), BMX_DIST_ORDERED);
    CHECK_EQ_INT(bmx_dist_check_every_step(d), 1);
    CHECK_EQ_INT(bmx_dist_configure(d, "sum", 30, 0, &stop, NULL, &err), BMX_EINVAL);
    CHECK(strncmp(err.msg, "--reduce: ", 10) == 0);
    CHECK_CONTAINS(err.msg, "sum");
    CHECK_EQ_INT(bmx_dist_configure(NULL, "allreduce", 0, 0, NULL, NULL, &err), BMX_EINVAL);
    CHECK_EQ_STR(err.msg, "--dist-timeout 0: give seconds > 0");
    CHECK_EQ_INT(bmx_dist_configure(NULL, "allreduce", 5, 0, NULL, NULL, &err), 0);
    double x[3] = {1.5, -2, 3};
    float f[2] = {0.25f, 4};
    int v = 0;
    CHECK_EQ_INT(bmx_dist_sum_doubles(d, x, 3, "test", &err), 0);
    CHECK_EQ_INT(bmx_dist_sum_floats(d, f, 2, "test", &err), 0);
    CHECK(x[0] == 1.5 && x[1] == -2 && x[2] == 3 && f[0] == 0.25f && f[1] == 4);
    CHECK_EQ_INT(bmx_dist_max_int(d, 7, &v, "test", &err), 0);
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(bmx_dist_check_digest(d, 42, "state", &err), 0);
    CHECK_EQ_INT(bmx_dist_agree(d, 0, &err), 0);
    CHECK_EQ_INT(bmx_dist_failed_together(d), 0);
    bmx_err_set(&err, BMX_EIO, "disk full");
    CHECK_EQ_INT(bmx_dist_agree(d, BMX_EIO, &err), BMX_EIO);
    CHECK_EQ_STR(err.msg, "disk full");
    CHECK_EQ_INT(bmx_dist_failed_together(d), 1);
    CHECK(bmx_dist_comm_seconds(d) == 0);
    bmx_dist_finalize(d);
    /* NULL: one process too */
    CHECK_EQ_INT(bmx_dist_rank(NULL), 0);
    CHECK_EQ_INT(bmx_dist_size(NULL), 1);
    CHECK_EQ_INT(bmx_dist_grads(NULL, NULL, &err), 0);
    CHECK_EQ_INT(bmx_dist_agree(NULL, BMX_EINVAL, &err), BMX_EINVAL);
}

static void test_launched_env(void)
{
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    CHECK_EQ_INT(bmx_dist_launched_size(), 4);
    setenv("OMPI_COMM_WORLD_SIZE", "x", 1);
    setenv("PMI_SIZE", "3", 1);
    CHECK_EQ_INT(bmx_dist_launched_size(), 3);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    CHECK_EQ_INT(bmx_dist_launched_size(), 1);
}

static void test_no_mpi_refuses_ranks(void)
{
    if (bmx_dist_built_with_mpi())
        SKIP("built with MPI: joining ranks needs mpirun (tests/cli/test_dist_mpi.sh)");
    bmx_err err = {0};
    bmx_dist *d = NULL;
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    CHECK_EQ_INT(bmx_dist_init(NULL, NULL, &d, &err), BMX_ESTATE);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    CHECK(d == NULL);
    CHECK_CONTAINS(err.msg, "2 ranks");
    CHECK_CONTAINS(err.msg, "built without MPI");
    CHECK_CONTAINS(err.msg, "libopenmpi-dev");
}

/* Under mpirun -np 2 only: every collective with values each rank can predict. */
static void test_ranks(void)
{
    if (bmx_dist_launched_size() != 2 || !bmx_dist_built_with_mpi())
        SKIP("run by tests/cli/test_dist_mpi.sh as mpirun -np 2 test_dist ranks");
    bmx_err err = {0};
    bmx_dist *d = NULL;
    CHECK_EQ_INT(bmx_dist_init(NULL, NULL, &d, &err), 0);
    int r = bmx_dist_rank(d), v = -1;
    CHECK_EQ_INT(bmx_dist_size(d), 2);
    bmx_dist_set_timeout(d, 60);
    /* two ranks on this machine: half its cores each (OMP_NUM_THREADS unset) */
    if (!getenv("OMP_NUM_THREADS")) {
        long half = sysconf(_SC_NPROCESSORS_ONLN) / 2;
        CHECK_EQ_INT(bmx_dist_threads(d, 0), half > 0 ? half : 1);
    }
    CHECK_EQ_INT(bmx_dist_threads(d, 3), 3);
    /* doubles: the sum */
    double x[2] = {r + 1.0, 10.0 * (r + 1)};
    CHECK_EQ_INT(bmx_dist_sum_doubles(d, x, 2, "test", &err), 0);
    CHECK(x[0] == 3 && x[1] == 30);
    /* floats, both modes, over more than one ordered chunk (2^20 + 3 values) */
    size_t n = ((size_t)1 << 20) + 3;
    float *f = malloc(n * sizeof *f);
    CHECK(f != NULL);
    for (int mode = 0; mode < 2; mode++) {
        bmx_dist_set_reduce(d, mode);
        for (size_t i = 0; i < n; i++)
            f[i] = (float)(i % 1000) * 0.25f + (float)r * 1e-3f;
        CHECK_EQ_INT(bmx_dist_sum_floats(d, f, n, "test", &err), 0);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float a = (float)(i % 1000) * 0.25f, b = a + 1e-3f;
            bad += f[i] != a + b;
        }
        CHECK_MSG(bad == 0, "mode %d: %zu of %zu sums wrong", mode, bad, n);
    }
    free(f);
    CHECK_EQ_INT(bmx_dist_max_int(d, r ? 7 : 3, &v, "test", &err), 0);
    CHECK_EQ_INT(v, 7);
    char word[8] = "";
    if (r == 0)
        memcpy(word, "lock", 5);
    CHECK_EQ_INT(bmx_dist_bcast(d, word, sizeof word, "test", &err), 0);
    CHECK_EQ_STR(word, "lock");
    /* agree: rank 1's error and message reach both ranks */
    CHECK_EQ_INT(bmx_dist_agree(d, 0, &err), 0);
    bmx_err e2 = {0};
    if (r == 1)
        bmx_err_set(&e2, BMX_EIO, "disk full on the second rank");
    CHECK_EQ_INT(bmx_dist_agree(d, r == 1 ? BMX_EIO : 0, &e2), BMX_EIO);
    CHECK_EQ_STR(e2.msg, "rank 1: disk full on the second rank");
    CHECK_EQ_INT(bmx_dist_failed_together(d), 1);
    /* digests: equal passes; different stops both ranks, naming rank 1 */
    CHECK_EQ_INT(bmx_dist_check_digest(d, 0x1234, "the state", &err), 0);
    CHECK_EQ_INT(bmx_dist_check_digest(d, 0x1234 + (uint64_t)r, "step 9: the state", &e2),
                 BMX_ESTATE);
    CHECK_CONTAINS(e2.msg, "step 9: the state differs between the ranks (rank 1 against rank 0)");
    /* gradients: summed and divided by 2 through a CPU backend */
    bmx_gpt_config mc = {64, 8, 1, 2, 16};
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    bmx_backend *be = NULL;
    bmx_train_config tc = bmx_train_config_default();
    CHECK_EQ_INT(bmx_model_create(&mc, BMX_F32, 1, &m, &err), 0);
    CHECK_EQ_INT(bmx_trainer_create(m, &tc, &t, &err), 0);
    CHECK_EQ_INT(bmx_backend_cpu(t, &be, &err), 0);
    size_t np = bmx_backend_num_params(be);
    float *g = malloc(np * sizeof *g);
    CHECK(g != NULL);
    for (size_t i = 0; i < np; i++)
        g[i] = r ? (float)i : 3.0f;
    CHECK_EQ_INT(bmx_backend_set_grads(be, g, &err), 0);
    CHECK_EQ_INT(bmx_dist_grads(d, be, &err), 0);
    CHECK_EQ_INT(bmx_backend_get_grads(be, g, &err), 0);
    size_t bad = 0;
    for (size_t i = 0; i < np; i++)
        bad += g[i] != ((float)i + 3.0f) / 2.0f;
    CHECK_MSG(bad == 0, "%zu of %zu gradient values wrong", bad, np);
    CHECK(bmx_dist_comm_seconds(d) > 0);
    free(g);
    bmx_backend_free(be);
    bmx_trainer_free(t);
    bmx_model_free(m);
    bmx_dist_finalize(d);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"ranks", test_ranks},
        {"digest_vectors", test_digest_vectors},
        {"reduce_parse", test_reduce_parse},
        {"one_process", test_one_process},
        {"launched_env", test_launched_env},
        {"no_mpi_refuses_ranks", test_no_mpi_refuses_ranks},
        {0},
    };
    return check_main(argc, argv, cases);
}
