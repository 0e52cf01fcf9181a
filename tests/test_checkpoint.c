/* Tests for bmx/checkpoint.h: the bytes of the file (table, little-endian fields), sections
 * round trip, a corrupted section refused by its CRC (the others still read), the previous
 * and an unknown version refused naming the file and both versions, bad writer input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmx/checkpoint.h"
#include "check.h"
#include "helpers.h"

static const char *path(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", check_tmpdir("ckpt"), name);
    return p;
}

/* Three sections: "a" = 5 bytes, "floats" = {1, -2.5}, "empty" = nothing. */
static void write_three(const char *p)
{
    bmx_err err = {0};
    bmx_ckpt_writer *w = NULL;
    static const float x[2] = {1.0f, -2.5f};
    CHECK(bmx_ckpt_writer_create(&w, &err) == 0);
    CHECK_MSG(bmx_ckpt_add(w, "a", "hello", 5, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_ckpt_add_f32(w, "floats", x, 2, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_ckpt_add(w, "empty", NULL, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_ckpt_save(w, p, &err) == 0, "%s", err.msg);
    bmx_ckpt_writer_free(w);
}

/* The file byte for byte, as bmx/checkpoint.h lays it out (hand-computed offsets). */
/* The little-endian codec of bmx/core.h, which the format and the tests' hand-made files use,
 * against bytes written out by hand. */
static void test_le_codec(void)
{
    static const unsigned char w32[4] = {0x78, 0x56, 0x34, 0x12};
    static const unsigned char w64[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
    unsigned char b[8];

    bmx_le_put32(b, 0x12345678u);
    CHECK(memcmp(b, w32, 4) == 0);
    CHECK(bmx_le_get32(w32) == 0x12345678u);
    bmx_le_put64(b, 0x0123456789abcdefull);
    CHECK(memcmp(b, w64, 8) == 0);
    CHECK(bmx_le_get64(w64) == 0x0123456789abcdefull);
    bmx_le_put16(b, 0xbeef);
    CHECK(b[0] == 0xef && b[1] == 0xbe && bmx_le_get16(b) == 0xbeef);
    bmx_le_put_f64(b, 1.0); /* 0x3ff0000000000000 */
    CHECK(b[7] == 0x3f && b[6] == 0xf0 && b[0] == 0);
    bmx_le_put_f32(b, -2.5f); /* 0xc0200000 */
    CHECK(b[3] == 0xc0 && b[2] == 0x20 && b[1] == 0 && b[0] == 0);
}

static void test_layout(void)
{
    const char *p = path("three.bin");
    size_t n;
    write_three(p);
    unsigned char *b = slurp(p, &n);
    CHECK_MSG(b, "cannot read %s", p);
    size_t table = 16 + 3 * 32 + 4; /* 116 */
    CHECK_EQ_INT(n, table + 5 + 8);
    CHECK(memcmp(b, "BMXCKPT1", 8) == 0);
    CHECK(b[8] == 2 && b[9] == 0 && b[10] == 0 && b[11] == 0); /* version 2, little-endian */
    CHECK(b[12] == 3 && b[13] == 0 && b[14] == 0 && b[15] == 0);
    CHECK(memcmp(b + 16, "a\0\0\0\0\0\0\0", 8) == 0);
    CHECK_EQ_INT(bmx_le_get64(b + 24), 116);
    CHECK_EQ_INT(bmx_le_get64(b + 32), 5);
    CHECK(bmx_le_get32(b + 40) == bmx_crc32(0, "hello", 5));
    CHECK(memcmp(b + 48, "floats\0\0", 8) == 0);
    CHECK_EQ_INT(bmx_le_get64(b + 56), 121);
    CHECK_EQ_INT(bmx_le_get64(b + 64), 8);
    CHECK(memcmp(b + 80, "empty\0\0\0", 8) == 0);
    CHECK_EQ_INT(bmx_le_get64(b + 88), 129);
    CHECK_EQ_INT(bmx_le_get64(b + 96), 0);
    CHECK(bmx_le_get32(b + 112) == bmx_crc32(0, b, 112));
    CHECK(memcmp(b + 116, "hello", 5) == 0);
    /* 1.0f = 0x3f800000, -2.5f = 0xc0200000, low byte first */
    static const unsigned char f[8] = {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0};
    CHECK(memcmp(b + 121, f, 8) == 0);
    free(b);
}

static void test_roundtrip(void)
{
    bmx_err err = {0};
    bmx_ckpt_reader *r = NULL;
    const char *p = path("rt.bin");
    char a[5];
    float x[2];
    size_t len = 99;
    void *e = (void *)1;
    write_three(p);
    CHECK_MSG(bmx_ckpt_open(p, &r, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(bmx_ckpt_tag(r, 0), "a");
    CHECK_EQ_STR(bmx_ckpt_tag(r, 1), "floats");
    CHECK_EQ_STR(bmx_ckpt_tag(r, 2), "empty");
    CHECK(bmx_ckpt_tag(r, 3) == NULL);
    CHECK(bmx_ckpt_has(r, "floats", &len) && len == 8);
    CHECK(!bmx_ckpt_has(r, "model", NULL));
    CHECK_MSG(bmx_ckpt_read(r, "a", a, 5, &err) == 0, "%s", err.msg);
    CHECK(memcmp(a, "hello", 5) == 0);
    CHECK_MSG(bmx_ckpt_read_f32(r, "floats", x, 2, &err) == 0, "%s", err.msg);
    CHECK(x[0] == 1.0f && x[1] == -2.5f);
    CHECK_MSG(bmx_ckpt_read_alloc(r, "empty", &e, &len, &err) == 0, "%s", err.msg);
    CHECK(e == NULL && len == 0);
    /* a missing section and a wrong length name the file and the section */
    CHECK(bmx_ckpt_read(r, "model", a, 5, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "no section 'model'");
    CHECK(bmx_ckpt_read(r, "a", a, 4, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "section 'a' holds 5 bytes, 4 were expected");
    bmx_ckpt_close(r);
}

/* One flipped byte inside "floats": open succeeds (the table is intact), reading "floats"
 * fails its CRC naming the file and the section, "a" still reads. */
static void test_section_crc(void)
{
    bmx_err err = {0};
    bmx_ckpt_reader *r = NULL;
    const char *p = path("crc.bin");
    size_t n;
    float x[2];
    char a[5];
    write_three(p);
    unsigned char *b = slurp(p, &n);
    CHECK_MSG(b, "cannot read %s", p);
    b[123] ^= 0x10;
    write_file(p, b, n);
    free(b);
    CHECK_MSG(bmx_ckpt_open(p, &r, &err) == 0, "%s", err.msg);
    CHECK(bmx_ckpt_read_f32(r, "floats", x, 2, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "section 'floats' fails its checksum");
    CHECK_MSG(bmx_ckpt_read(r, "a", a, 5, &err) == 0, "%s", err.msg);
    bmx_ckpt_close(r);
    /* a flipped byte of the table: the header's checksum */
    write_three(p);
    b = slurp(p, &n);
    CHECK_MSG(b, "cannot read %s", p);
    b[60] ^= 1; /* the offset of "floats" */
    write_file(p, b, n);
    free(b);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT && r == NULL);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "corrupt header (checksum)");
}

/* The table's CRC recomputed after an edit, as anyone can. */
static void reseal(unsigned char *b)
{
    size_t t = 16 + 32 * (size_t)bmx_le_get32(b + 12);
    bmx_le_put32(b + t, bmx_crc32(0, b, t));
}

/* Sections that do not tile the file: a gap, a short and a long file. */
static void test_tiling(void)
{
    bmx_err err = {0};
    bmx_ckpt_reader *r = NULL;
    const char *p = path("tile.bin");
    size_t n;
    write_three(p);
    unsigned char *b = slurp(p, &n);
    CHECK_MSG(b, "cannot read %s", p);
    bmx_le_put64(b + 56, 122); /* "floats" one byte later than "a" ends */
    reseal(b);
    write_file(p, b, n);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg,
                   "section 'floats' is not where its table says (offset 122, expected 121)");
    bmx_le_put64(b + 56, 121);
    bmx_le_put64(b + 64, 9); /* "floats" past the end of the file */
    bmx_le_put64(b + 88, 130);
    reseal(b);
    write_file(p, b, n);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "is truncated: 129 bytes, its table says 130");
    bmx_le_put64(b + 64, 8);
    bmx_le_put64(b + 88, 129);
    reseal(b);
    write_file(p, b, n - 1);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated");
    b[n] = 0;
    write_file(p, b, n + 1);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "trailing bytes");
    memcpy(b + 48, "a\0\0\0\0\0\0\0", 8); /* two sections "a" */
    reseal(b);
    write_file(p, b, n);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "table entry 1 has a bad or repeated tag");
    free(b);
}

/* A version-1 checkpoint (bmx before the sections: magic, u32 version 1, then its fixed
 * 176-byte header) and a version from the future are refused naming the file and both. */
static void test_versions(void)
{
    bmx_err err = {0};
    bmx_ckpt_reader *r = NULL;
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    const char *p = path("v1.bin");
    unsigned char h[176] = "BMXCKPT1";
    bmx_le_put32(h + 8, 1);
    bmx_le_put32(h + 12, 176);
    bmx_le_put32(h + 172, bmx_crc32(0, h, 172));
    write_file(p, h, sizeof h);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT && r == NULL);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "has format version 1; this build reads version 2");
    CHECK_CONTAINS(err.msg, "older bmx");
    void *ex = NULL;
    size_t exl = 0;
    CHECK(bmx_checkpoint_load(p, 0, &m, &t, &ex, &exl, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "has format version 1; this build reads version 2");
    CHECK(m == NULL && t == NULL && ex == NULL);
    /* without extra bytes wanted, the version-1 reader looks at it: all-zero configuration */
    CHECK(bmx_checkpoint_load(p, 0, &m, &t, NULL, NULL, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, "(version 1) holds an invalid configuration");
    CHECK(m == NULL && t == NULL);
    bmx_le_put32(h + 8, 3);
    write_file(p, h, sizeof h);
    CHECK(bmx_ckpt_open(p, &r, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "has format version 3; this build reads version 2");
    CHECK_CONTAINS(err.msg, "newer bmx");
}

/* A real version-1 checkpoint (tests/fixtures/ckpt/README.md: written by bmx b630940, a 1-layer
 * model after 3 steps) loads its model and AdamW state; the values were read from the file
 * with Python's struct module. Its run state is not read, and damage is refused. */
static void test_version1_model(void)
{
    const char *fx = "tests/fixtures/ckpt/v1-uniform-s3.bin";
    bmx_err err = {0};
    bmx_model *m = NULL;
    bmx_trainer *t = NULL;
    CHECK(bmx_checkpoint_load(fx, 0, &m, &t, NULL, NULL, &err) == BMX_OK);
    if (!m)
        return;
    const bmx_gpt_config *mc = bmx_model_config(m);
    CHECK(mc->vocab == 320 && mc->ctx == 16 && mc->layers == 1 && mc->heads == 2 &&
          mc->width == 16);
    const bmx_train_config *tc = bmx_trainer_config(t);
    CHECK(tc->lr == 0.003 && tc->min_lr == 0.0003 && tc->warmup == 20 && tc->total == 3 &&
          tc->beta2 == 0.95 && tc->eps == 1e-8 && tc->weight_decay == 0.1 && tc->accum == 1);
    CHECK(bmx_trainer_step_count(t) == 3);
    size_t n = bmx_model_num_params(m);
    CHECK(n == 8688);
    const float *p = bmx_model_params(m);
    const float *mv[2] = {bmx_trainer_moment1(t), bmx_trainer_moment2(t)};
    CHECK(p[0] == (float)-0.00425005005672574 && p[n - 1] == (float)0.0008699528407305479);
    double sp = 0, sm = 0, sv = 0;
    for (size_t i = 0; i < n; i++)
        sp += p[i], sm += mv[0][i], sv += mv[1][i];
    CHECK_NEAR(sp, 48.016296149686504, 1e-9);
    CHECK_NEAR(sm, -0.0033747412724609294, 1e-12);
    CHECK_NEAR(sv, 0.14262486035905034, 1e-12);
    bmx_trainer_free(t);
    bmx_model_free(m);
    m = NULL;
    t = NULL;

    /* damaged copies: a payload byte, the last byte (run state), a header byte, a cut */
    size_t len = 0;
    unsigned char *b = slurp(fx, &len);
    const char *q = path("v1-bad.bin");
    static const struct {
        long at; /* byte flipped; -1: file cut by one byte */
        const char *msg;
    } bad[] = {{176 + 4 * 100, "payload checksum mismatch"},
               {-2, "payload checksum mismatch"},
               {50, "corrupt header"},
               {-1, "is truncated"}};
    for (int i = 0; i < 4; i++) {
        long at = bad[i].at == -2 ? (long)len - 1 : bad[i].at;
        if (at >= 0)
            b[at] ^= 0x10;
        write_file(q, b, bad[i].at == -1 ? len - 1 : len);
        if (at >= 0)
            b[at] ^= 0x10;
        CHECK(bmx_checkpoint_load(q, 0, &m, &t, NULL, NULL, &err) == BMX_ECORRUPT);
        CHECK_CONTAINS(err.msg, q);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(m == NULL && t == NULL);
    }
    free(b);
    /* the run-state reader (a resume) still refuses it */
    bmx_ckpt_reader *r = NULL;
    CHECK(bmx_ckpt_open(fx, &r, &err) == BMX_ECORRUPT && r == NULL);
    CHECK_CONTAINS(err.msg, "has format version 1; this build reads version 2");
}

static void test_writer_refusals(void)
{
    bmx_err err = {0};
    bmx_ckpt_writer *w = NULL;
    CHECK(bmx_ckpt_writer_create(&w, &err) == 0);
    CHECK(bmx_ckpt_add(w, "toolongtag", "x", 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "'toolongtag'");
    CHECK(bmx_ckpt_add(w, "", "x", 1, &err) == BMX_EINVAL);
    CHECK(bmx_ckpt_add(w, "a b", "x", 1, &err) == BMX_EINVAL);
    CHECK(bmx_ckpt_add(w, "x", "x", 1, &err) == 0);
    CHECK(bmx_ckpt_add(w, "x", "y", 1, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "section 'x' is added twice");
    char tag[16];
    for (int i = 1; i < BMX_CKPT_MAX_SECTIONS; i++) {
        snprintf(tag, sizeof tag, "s%d", i);
        CHECK(bmx_ckpt_add(w, tag, NULL, 0, &err) == 0);
    }
    CHECK(bmx_ckpt_add(w, "more", NULL, 0, &err) == BMX_EINVAL);
    CHECK_CONTAINS(err.msg, "at most 64 sections");
    CHECK(bmx_ckpt_save(w, "/nonexistent/dir/x.bin", &err) == BMX_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent/dir/x.bin");
    bmx_ckpt_writer_free(w);
}

/* A trainer's sections with the caller's own after them: both come back. */
static void test_trainer_sections(void)
{
    bmx_err err = {0};
    bmx_gpt_config c = {16, 4, 1, 2, 4};
    bmx_train_config tc = bmx_train_config_default();
    bmx_model *m = NULL, *m2 = NULL;
    bmx_trainer *t = NULL, *t2 = NULL;
    bmx_ckpt_writer *w = NULL;
    bmx_ckpt_reader *r = NULL;
    const char *p = path("trainer.bin");
    char own[3];
    tc.accum = 3;
    CHECK(bmx_model_create(&c, BMX_F32, 0, &m, &err) == 0);
    CHECK(bmx_trainer_create(m, &tc, &t, &err) == 0);
    size_t np = bmx_model_num_params(m);
    for (size_t i = 0; i < np; i++) {
        ((float *)bmx_model_params(m))[i] = (float)i * 0.25f;
        bmx_trainer_moment1(t)[i] = -(float)i;
        bmx_trainer_moment2(t)[i] = (float)i * 2;
    }
    bmx_trainer_set_step(t, 41);
    CHECK(bmx_ckpt_writer_create(&w, &err) == 0);
    CHECK(bmx_ckpt_add_trainer(w, t, &err) == 0);
    CHECK(bmx_ckpt_add(w, "mine", "abc", 3, &err) == 0);
    CHECK(bmx_ckpt_add(w, "params", "x", 1, &err) == BMX_EINVAL); /* the trainer's tag */
    CHECK_MSG(bmx_ckpt_save(w, p, &err) == 0, "%s", err.msg);
    bmx_ckpt_writer_free(w);
    CHECK_MSG(bmx_ckpt_open(p, &r, &err) == 0, "%s", err.msg);
    CHECK_MSG(bmx_ckpt_load_trainer(r, 0, &m2, &t2, &err) == 0, "%s", err.msg);
    CHECK(bmx_ckpt_read(r, "mine", own, 3, &err) == 0 && memcmp(own, "abc", 3) == 0);
    bmx_ckpt_close(r);
    CHECK_EQ_INT(bmx_trainer_step_count(t2), 41);
    CHECK_EQ_INT(bmx_trainer_config(t2)->accum, 3);
    CHECK(memcmp(bmx_model_config(m2), &c, sizeof c) == 0);
    CHECK(memcmp(bmx_model_params(m2), bmx_model_params(m), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment1(t2), bmx_trainer_moment1(t), np * 4) == 0);
    CHECK(memcmp(bmx_trainer_moment2(t2), bmx_trainer_moment2(t), np * 4) == 0);
    bmx_trainer_free(t2);
    bmx_model_free(m2);
    bmx_trainer_free(t);
    bmx_model_free(m);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {{"le_codec", test_le_codec},
                                              {"layout", test_layout},
                                              {"roundtrip", test_roundtrip},
                                              {"section_crc", test_section_crc},
                                              {"tiling", test_tiling},
                                              {"versions", test_versions},
                                              {"version1_model", test_version1_model},
                                              {"writer_refusals", test_writer_refusals},
                                              {"trainer_sections", test_trainer_sections},
                                              {0}};
    return check_main(argc, argv, cases);
}
