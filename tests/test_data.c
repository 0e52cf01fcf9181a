/* Token shards: round trips, every kind of corruption, windows and their statistics. */
#include "bmx/data.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Paths and messages in this test are short; truncation is harmless. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *tmpdir(void)
{
    return check_tmpdir("data");
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir(), name);
}

/* Write docs of lengths len[0..nd) with ids id(d, k) = (d * 7919 + k * 31) % (vocab - 1),
 * skipping the eot (vocab - 1). */
static uint32_t id_of(uint32_t vocab, size_t d, size_t k)
{
    return (uint32_t)((d * 7919u + k * 31u) % (vocab - 1));
}

static void write_shard(const char *path, uint32_t vocab, const size_t *len, size_t nd)
{
    bmx_shard_writer *w;
    bmx_err err = {0};
    uint32_t *ids = malloc(1000 * sizeof *ids);

    CHECK(ids);
    CHECK_EQ_INT(bmx_shard_writer_open(&w, path, vocab, vocab - 1, &err), 0);
    for (size_t d = 0; d < nd; d++) {
        for (size_t k = 0; k < len[d]; k++)
            ids[k] = id_of(vocab, d, k);
        CHECK_EQ_INT(bmx_shard_writer_add(w, ids, len[d], &err), 0);
    }
    CHECK_EQ_INT(bmx_shard_writer_close(w, &err), 0);
    free(ids);
}

static void round_trip(uint32_t vocab, uint32_t width)
{
    static const size_t len[] = {5, 0, 17, 300, 1};
    char p[128];
    bmx_shard *s;
    bmx_err err = {0};
    uint64_t pos = 0, want_tokens = 0;
    FILE *f;
    long size;

    path_of(p, sizeof p, "rt.bin");
    write_shard(p, vocab, len, 5);
    for (int d = 0; d < 5; d++)
        want_tokens += len[d] + 1;
    CHECK(access(p, F_OK) == 0);
    {
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", p);
        CHECK(access(tmp, F_OK) != 0); /* renamed away */
    }
    f = fopen(p, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    CHECK_EQ_INT(size, 64 + (long)(want_tokens * width));
    CHECK_EQ_INT(bmx_shard_open(&s, p, &err), 0);
    CHECK_EQ_INT(s->width, width);
    CHECK_EQ_INT(s->vocab_size, vocab);
    CHECK_EQ_INT(s->eot, vocab - 1);
    CHECK_EQ_INT(s->ndocs, 5);
    CHECK_EQ_INT(s->ntokens, want_tokens);
    for (size_t d = 0; d < 5; d++) {
        for (size_t k = 0; k < len[d]; k++)
            CHECK_EQ_INT(bmx_shard_token(s, pos++), id_of(vocab, d, k));
        CHECK_EQ_INT(bmx_shard_token(s, pos++), vocab - 1);
    }
    {
        uint32_t buf[4];
        bmx_shard_copy(s, 3, 4, buf);
        CHECK_EQ_INT(buf[0], id_of(vocab, 0, 3));
        CHECK_EQ_INT(buf[2], vocab - 1); /* end of doc 0 */
        CHECK_EQ_INT(buf[3], vocab - 1); /* empty doc 1 */
    }
    bmx_shard_free(s);
}

static void test_round_trip_16(void)
{
    round_trip(50257, 2);
}
static void test_round_trip_16_edge(void)
{
    round_trip(65536, 2);
}
static void test_round_trip_32(void)
{
    round_trip(65537, 4);
}
static void test_round_trip_32_big(void)
{
    round_trip(200000, 4);
}

static void test_writer_rejects_bad_ids(void)
{
    char p[128];
    bmx_shard_writer *w;
    bmx_err err = {0};
    uint32_t ids[2] = {3, 100};

    path_of(p, sizeof p, "badids.bin");
    CHECK_EQ_INT(bmx_shard_writer_open(&w, p, 100, 99, &err), 0);
    CHECK_EQ_INT(bmx_shard_writer_add(w, ids, 2, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "outside the vocabulary");
    ids[1] = 99;
    CHECK_EQ_INT(bmx_shard_writer_add(w, ids, 2, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "end-of-text");
    bmx_shard_writer_abort(w);
    CHECK(access(p, F_OK) != 0);
    CHECK_EQ_INT(bmx_shard_writer_open(&w, p, 100, 100, &err), BMX_EINVAL);
}

/* Write a good shard, damage it with fn, expect an error naming the file and want. */
static void corrupt_case(const char *name, void (*fn)(unsigned char *, long *), const char *want)
{
    static const size_t len[] = {40, 13, 7};
    char p[128];
    unsigned char *buf = malloc(4096);
    long n;
    FILE *f;
    bmx_shard *s = NULL;
    bmx_err err = {0};

    path_of(p, sizeof p, name);
    write_shard(p, 1000, len, 3);
    f = fopen(p, "rb");
    n = (long)fread(buf, 1, 4096, f);
    fclose(f);
    fn(buf, &n);
    f = fopen(p, "wb");
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
    free(buf);
    CHECK_EQ_INT(bmx_shard_open(&s, p, &err), BMX_ECORRUPT);
    CHECK(s == NULL);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, want);
}

/* Recompute the header CRC after editing a header field, so that the field check is hit. */
static void fix_header_crc(unsigned char *b)
{
    bmx_le_put32(b + 60, bmx_crc32(0, b, 60));
}

static void bad_magic(unsigned char *b, long *n)
{
    b[0] = 'X';
}
static void bad_version(unsigned char *b, long *n)
{
    b[8] = 2;
    fix_header_crc(b);
}
static void truncated_tokens(unsigned char *b, long *n)
{
    *n -= 2;
}
static void truncated_header(unsigned char *b, long *n)
{
    *n = 30;
}
static void flipped_token(unsigned char *b, long *n)
{
    b[64 + 10] ^= 0x04;
}
static void flipped_header(unsigned char *b, long *n)
{
    b[33] ^= 0x01;
}
static void extra_bytes(unsigned char *b, long *n)
{
    b[*n] = 1;
    b[*n + 1] = 0;
    *n += 2;
}
static void wrong_count(unsigned char *b, long *n)
{
    b[24] += 1; /* ntokens + 1, header CRC fixed: the size no longer matches */
    fix_header_crc(b);
}
static void wrong_docs(unsigned char *b, long *n)
{
    b[32] += 1;
    fix_header_crc(b);
}

static void test_corrupt_magic(void)
{
    corrupt_case("magic.bin", bad_magic, "bad magic");
}
static void test_corrupt_version(void)
{
    corrupt_case("ver.bin", bad_version, "version 2");
}
static void test_truncated(void)
{
    corrupt_case("trunc.bin", truncated_tokens, "truncated");
}
static void test_truncated_header(void)
{
    corrupt_case("trunch.bin", truncated_header, "shorter than the 64-byte header");
}
static void test_flipped_token(void)
{
    corrupt_case("flip.bin", flipped_token, "token checksum");
}
static void test_flipped_header(void)
{
    corrupt_case("fliph.bin", flipped_header, "header checksum");
}
static void test_wrong_size(void)
{
    corrupt_case("extra.bin", extra_bytes, "size mismatch");
}
static void test_wrong_count(void)
{
    corrupt_case("count.bin", wrong_count, "size mismatch");
}
static void test_wrong_docs(void)
{
    corrupt_case("docs.bin", wrong_docs, "end-of-text tokens");
}

static void test_missing_file(void)
{
    bmx_shard *s;
    bmx_err err = {0};
    CHECK_EQ_INT(bmx_shard_open(&s, "/nonexistent/x.bin", &err), BMX_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.bin");
}

/* One document of 1000 tokens (1001 with the eot). */
static bmx_shard *open_long(uint32_t vocab)
{
    static const size_t len[] = {1000};
    char p[128];
    bmx_shard *s;
    bmx_err err = {0};

    path_of(p, sizeof p, "long.bin");
    write_shard(p, vocab, len, 1);
    CHECK_EQ_INT(bmx_shard_open(&s, p, &err), 0);
    return s;
}

/* Documents of 3, 0 and 5 tokens: tokens 0-2 eot(3), eot(4), 5-9 eot(10). */
static void test_doc_span(void)
{
    static const size_t len[] = {3, 0, 5};
    char p[128];
    bmx_shard *s;
    bmx_err err = {0};
    uint64_t a, b;

    path_of(p, sizeof p, "docs.bin");
    write_shard(p, 300, len, 3);
    CHECK_EQ_INT(bmx_shard_open(&s, p, &err), 0);
    bmx_shard_doc_span(s, 0, 64, &a, &b);
    CHECK(a == 0 && b == 3);
    bmx_shard_doc_span(s, 1, 64, &a, &b);
    CHECK(a == 4 && b == 4);
    bmx_shard_doc_span(s, 2, 64, &a, &b);
    CHECK(a == 5 && b == 10);
    bmx_shard_doc_span(s, 2, 2, &a, &b);
    CHECK(a == 5 && b == 7);
    bmx_shard_doc_span(s, 3, 64, &a, &b);
    CHECK(a == 11 && b == 11 && s->ntokens == 11);
    bmx_shard_free(s);
}

static void test_sample_inside_and_reproducible(void)
{
    bmx_shard *s = open_long(5000);
    bmx_rng a, b;
    bmx_err err = {0};
    uint32_t wa[65], wb[65];
    const size_t T = 64;

    bmx_rng_seed(&a, 11, 3);
    bmx_rng_seed(&b, 11, 3);
    for (int i = 0; i < 500; i++) {
        uint64_t sa, sb;
        CHECK_EQ_INT(bmx_shard_sample(s, &a, T, wa, &sa, &err), 0);
        CHECK_EQ_INT(bmx_shard_sample(s, &b, T, wb, &sb, &err), 0);
        CHECK_EQ_INT(sa, sb);
        CHECK(sa + T <= s->ntokens - 1);
        CHECK(memcmp(wa, wb, sizeof wa) == 0);
        for (size_t k = 0; k <= T; k++)
            CHECK_EQ_INT(wa[k], bmx_shard_token(s, sa + k));
    }
    /* the same draws as bmx_rng_below(ntokens - T) on a fresh generator */
    {
        bmx_rng c;
        uint64_t st;
        bmx_rng_seed(&c, 99, 0);
        bmx_rng_seed(&a, 99, 0);
        CHECK_EQ_INT(bmx_shard_sample(s, &a, T, wa, &st, &err), 0);
        CHECK_EQ_INT(st, bmx_rng_below(&c, 1001 - 64));
    }
    /* too short */
    CHECK_EQ_INT(bmx_shard_sample(s, &a, 1001, wa, NULL, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "too few");
    bmx_shard_free(s);
}

/* Start offsets are uniform on [0, ntokens - T - 1]: both extremes occur, and a chi-square
 * test over 8 equal bins stays below the 0.999 quantile (24.32 for 7 degrees of freedom). */
static void test_sample_uniform(void)
{
    bmx_shard *s = open_long(5000);
    const size_t T = 200;
    const uint64_t range = 1001 - 200; /* 801 possible starts: 0..800 */
    uint32_t w[201];
    bmx_rng r;
    bmx_err err = {0};
    long bins[8] = {0};
    const int n = 80000;
    int seen_lo = 0, seen_hi = 0;
    double chi = 0.0;

    bmx_rng_seed(&r, 5, 0);
    for (int i = 0; i < n; i++) {
        uint64_t st;
        CHECK_EQ_INT(bmx_shard_sample(s, &r, T, w, &st, &err), 0);
        CHECK(st < range);
        seen_lo |= st == 0;
        seen_hi |= st == range - 1;
        if (st < 800)
            bins[st / 100]++;
    }
    CHECK(seen_lo && seen_hi);
    for (int b = 0; b < 8; b++) {
        double e = n * 100.0 / 801.0;
        chi += (bins[b] - e) * (bins[b] - e) / e;
    }
    CHECK_MSG(chi < 24.32, "chi-square %g over 8 bins", chi);
    bmx_shard_free(s);
}

static void test_val_windows(void)
{
    bmx_shard *s = open_long(5000); /* 1001 tokens */
    uint64_t *a, *b;
    size_t na, nb;
    bmx_err err = {0};

    /* all windows: K = floor(1000 / 64) = 15, starts 0, 64, ..., 896 */
    CHECK_EQ_INT(bmx_shard_val_windows(s, 64, 100, 1, &a, &na, &err), 0);
    CHECK_EQ_INT(na, 15);
    for (size_t i = 0; i < na; i++)
        CHECK_EQ_INT(a[i], 64 * i);
    CHECK(a[na - 1] + 64 <= s->ntokens - 1);
    free(a);
    /* a subset: 5 of 15, sorted, distinct, multiples of T, same for the same seed */
    CHECK_EQ_INT(bmx_shard_val_windows(s, 64, 5, 7, &a, &na, &err), 0);
    CHECK_EQ_INT(bmx_shard_val_windows(s, 64, 5, 7, &b, &nb, &err), 0);
    CHECK_EQ_INT(na, 5);
    CHECK_EQ_INT(nb, 5);
    for (size_t i = 0; i < na; i++) {
        CHECK_EQ_INT(a[i], b[i]);
        CHECK_EQ_INT(a[i] % 64, 0);
        CHECK(a[i] <= 896);
        if (i)
            CHECK(a[i] > a[i - 1]);
    }
    free(b);
    /* another seed picks another subset (the chance of an equal pick is 1/3003) */
    CHECK_EQ_INT(bmx_shard_val_windows(s, 64, 5, 8, &b, &nb, &err), 0);
    CHECK(memcmp(a, b, 5 * sizeof *a) != 0);
    free(a);
    free(b);
    /* fewer than T + 1 tokens: no window */
    CHECK_EQ_INT(bmx_shard_val_windows(s, 1001, 5, 7, &a, &na, &err), 0);
    CHECK_EQ_INT(na, 0);
    CHECK(a == NULL);
    bmx_shard_free(s);
}

static void test_dataset(void)
{
    static const size_t la[] = {10, 20}, lb[] = {5};
    static const char *doms[] = {"a", "b"}, *bad[] = {"a", "c"}, *missing[] = {"a", "zz"};
    char p[160];
    bmx_dataset *ds;
    bmx_err err = {0};

    snprintf(p, sizeof p, "%s/ds", tmpdir());
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ds/a", tmpdir());
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ds/b", tmpdir());
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ds/c", tmpdir());
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ds/a/train.bin", tmpdir());
    write_shard(p, 1000, la, 2);
    snprintf(p, sizeof p, "%s/ds/b/train.bin", tmpdir());
    write_shard(p, 1000, lb, 1);
    snprintf(p, sizeof p, "%s/ds/c/train.bin", tmpdir());
    write_shard(p, 2000, lb, 1);
    snprintf(p, sizeof p, "%s/ds", tmpdir());
    CHECK_MSG(bmx_dataset_open(&ds, p, "train", doms, 2, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(ds->n, 2);
    CHECK_EQ_STR(ds->names[1], "b");
    CHECK_EQ_INT(ds->shards[0]->ntokens, 32);
    CHECK_EQ_INT(ds->shards[1]->ntokens, 6);
    CHECK_EQ_INT(ds->vocab_size, 1000);
    CHECK_EQ_INT(ds->eot, 999);
    bmx_dataset_free(ds);
    CHECK_EQ_INT(bmx_dataset_open(&ds, p, "train", bad, 2, &err), BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "same tokenizer");
    CHECK_EQ_INT(bmx_dataset_open(&ds, p, "train", missing, 2, &err), BMX_EIO);
    CHECK_CONTAINS(err.msg, "zz/train.bin");
    CHECK_EQ_INT(bmx_dataset_open(&ds, p, "dev", doms, 2, &err), BMX_EINVAL);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"round_trip_16", test_round_trip_16},
        {"doc_span", test_doc_span},
        {"round_trip_16_edge", test_round_trip_16_edge},
        {"round_trip_32", test_round_trip_32},
        {"round_trip_32_big", test_round_trip_32_big},
        {"writer_rejects_bad_ids", test_writer_rejects_bad_ids},
        {"corrupt_magic", test_corrupt_magic},
        {"corrupt_version", test_corrupt_version},
        {"truncated", test_truncated},
        {"truncated_header", test_truncated_header},
        {"flipped_token", test_flipped_token},
        {"flipped_header", test_flipped_header},
        {"wrong_size", test_wrong_size},
        {"wrong_count", test_wrong_count},
        {"wrong_docs", test_wrong_docs},
        {"missing_file", test_missing_file},
        {"sample_inside_and_reproducible", test_sample_inside_and_reproducible},
        {"sample_uniform", test_sample_uniform},
        {"val_windows", test_val_windows},
        {"dataset", test_dataset},
        {0},
    };
    int rc = check_main(argc, argv, cases);
    return rc;
}
