/* bmx/dist.h on one process: the digest (FNV-1a 64 test vectors), the reduce-mode names, the
 * one-process group (every collective a no-op that leaves values alone, agree passing the
 * status through), the launcher's environment, and a build without MPI refusing to run as
 * one of several ranks. The collectives across ranks are tested under mpirun by
 * tests/cli/test_dist_mpi.sh. */
#include <stdlib.h>
#include <string.h>

#include "bmx/dist.h"
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

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"digest_vectors", test_digest_vectors},
        {"reduce_parse", test_reduce_parse},
        {"one_process", test_one_process},
        {"launched_env", test_launched_env},
        {"no_mpi_refuses_ranks", test_no_mpi_refuses_ranks},
        {0},
    };
    return check_main(argc, argv, cases);
}
