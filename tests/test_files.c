/* Where a regular file is expected (issue 11 item 10): every reader of the library refuses a
 * FIFO or a directory at once, naming it and what it is, through bmx_file_open_regular. A
 * FIFO blocked the readers forever (open waits for a writer): an alarm turns a hang into a
 * failure. bmx_file_read_all's size bound is checked at and past the limit. (The task
 * readers are checked in test_tasks.c: bmx/tasks.h and bmx/corpus.h share split names.)
 * Also core's text of a duration (bmx_fmt_duration). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmx/core.h"
#include "bmx/corpus.h"
#include "bmx/data.h"
#include "bmx/run.h"
#include "bmx/report.h"
#include "bmx/tok.h"
#include "bmx/train.h"
#include "check.h"

static char dir[256], fifo[300], sub[300];

static void on_alarm(int sig)
{
    static const char msg[] = "test_files: a reader blocked on a FIFO (alarm after 20 s)\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(2);
}

/* A folder with "x.fifo" (a FIFO no one writes) and "sub" (a directory). */
static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bmx_test_files_%ld", (long)getpid());
    snprintf(fifo, sizeof fifo, "%s/x.fifo", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(mkdir(sub, 0700) == 0 || errno == EEXIST);
    signal(SIGALRM, on_alarm);
    alarm(20);
}

static void teardown(void)
{
    alarm(0);
    unlink(fifo);
    rmdir(sub);
    rmdir(dir);
}

/* The reader's message for path: it names path and says what it is. */
static void refused(int rc, const bmx_err *err, const char *path, const char *kind)
{
    CHECK_MSG(rc < 0, "%s was accepted", path);
    CHECK_CONTAINS(err->msg, path);
    CHECK_CONTAINS(err->msg, kind);
    CHECK_CONTAINS(err->msg, "not a regular file");
}

static void each_reader(const char *p, const char *kind)
{
    bmx_err err = {0};
    bmx_tok *tok = NULL;
    bmx_shard *sh = NULL;
    bmx_corpus_docs *docs = NULL;
    bmx_model *m = NULL;
    bmx_trainer *tr = NULL;
    void *extra = NULL;
    size_t extra_len = 0;
    uint32_t crc;
    int fd = -1;
    FILE *f = NULL;
    char *data = NULL;
    size_t n = 0;

    refused(bmx_file_open_regular(p, &fd, &err), &err, p, kind);
    CHECK(fd == -1);
    refused(bmx_file_fopen_regular(p, &f, &err), &err, p, kind);
    CHECK(f == NULL);
    refused(bmx_file_read_all(p, 100, &data, &n, &err), &err, p, kind);
    CHECK(data == NULL && n == 0);
    refused(bmx_crc32_file(p, &crc, &err), &err, p, kind);
    refused(bmx_tok_load(&tok, p, &err), &err, p, kind);
    refused(bmx_tok_load_gpt2(&tok, p, p, &err), &err, p, kind);
    refused(bmx_shard_open(&sh, p, &err), &err, p, kind);
    refused(bmx_corpus_docs_load(p, &docs, &err), &err, p, kind);
    refused(bmx_checkpoint_load(p, 0, &m, &tr, &extra, &extra_len, &err), &err, p, kind);
    {
        bmx_run_config c = bmx_run_config_default();
        bmx_run_strings store = {0};
        refused(bmx_run_config_load(&c, p, &store, &err), &err, p, kind);
        bmx_run_strings_free(&store);
    }
}

/* The readers that take a folder, whose log.jsonl (a run folder) or manifest.json (a corpus)
 * is made by make (mkfifo, mkdir) and removed by rm (unlink, rmdir); with direct, the run log
 * reader is also given the log file itself. */
static void each_folder_reader(int (*make)(const char *, mode_t), int (*rm)(const char *),
                               const char *kind, int direct)
{
    char p[400];
    bmx_err err = {0};
    bmx_runlog *log = NULL;
    bmx_corpus_entry *e = NULL;
    size_t n = 0;

    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    CHECK(make(p, 0700) == 0);
    refused(bmx_runlog_load(dir, &log, &err), &err, p, kind);
    if (direct)
        refused(bmx_runlog_load(p, &log, &err), &err, p, kind);
    rm(p);
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    CHECK(make(p, 0700) == 0);
    refused(bmx_corpus_manifest_list(dir, &e, &n, &err), &err, p, kind);
    rm(p);
}

static void test_fifo_refused(void)
{
    setup();
    each_reader(fifo, "is a FIFO (named pipe)");
    each_folder_reader(mkfifo, unlink, "is a FIFO", 1);
    teardown();
}

static void test_directory_refused(void)
{
    setup();
    each_reader(sub, "is a directory");
    each_folder_reader(mkdir, rmdir, "is a directory", 0);
    teardown();
}

/* Character devices too; /dev/zero never ends, so a reader that loops on it would hang. */
static void test_device_refused(void)
{
    bmx_err err = {0};
    char *data = NULL;
    size_t n = 0;

    setup();
    refused(bmx_file_read_all("/dev/zero", 1 << 20, &data, &n, &err), &err, "/dev/zero",
            "is a character device");
    {
        bmx_run_config c = bmx_run_config_default();
        bmx_run_strings store = {0};
        refused(bmx_run_config_load(&c, "/dev/zero", &store, &err), &err, "/dev/zero",
                "is a character device");
        bmx_run_strings_free(&store);
    }
    teardown();
}

/* bmx_file_read_all: exactly max bytes are read, one more is refused with the bound. */
static void test_read_all_bound(void)
{
    char p[400], *data = NULL;
    size_t n = 0;
    bmx_err err = {0};
    FILE *f;

    setup();
    snprintf(p, sizeof p, "%s/ten", dir);
    f = fopen(p, "wb");
    CHECK(f && fwrite("0123456789", 1, 10, f) == 10);
    fclose(f);
    CHECK_MSG(bmx_file_read_all(p, 10, &data, &n, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_STR(data, "0123456789"); /* NUL-terminated */
    free(data);
    CHECK_EQ_INT(bmx_file_read_all(p, 9, &data, &n, &err), BMX_ECORRUPT);
    CHECK(data == NULL && n == 0);
    CHECK_CONTAINS(err.msg, p);
    CHECK_CONTAINS(err.msg, "larger than 9 bytes");
    unlink(p);
    CHECK_EQ_INT(bmx_file_read_all(p, 9, &data, &n, &err), BMX_EIO);
    CHECK_CONTAINS(err.msg, "cannot open");
    CHECK_CONTAINS(err.msg, "No such file");
    teardown();
}

/* bmx_file_read_input: "-" reads the whole of standard input, a path reads the file (so a
 * FIFO is refused by name), bmx_file_mkdir_p makes every missing parent. */
static void test_read_input_and_mkdir(void)
{
    char path[300], *data = NULL;
    size_t n = 0;
    bmx_err err = {0};
    FILE *f;

    snprintf(path, sizeof path, "%s/in.txt", check_tmpdir("files_input"));
    CHECK((f = fopen(path, "w")) != NULL);
    fputs("abc\ndef", f);
    fclose(f);
    CHECK(freopen(path, "r", stdin) != NULL);
    CHECK(bmx_file_read_input("-", 100, &data, &n, &err) == 0);
    CHECK(n == 7 && memcmp(data, "abc\ndef", 7) == 0 && data[7] == 0);
    free(data);
    CHECK(bmx_file_read_input(path, 3, &data, &n, &err) == BMX_ECORRUPT);
    CHECK_CONTAINS(err.msg, path);
    snprintf(path, sizeof path, "%s/a/b/c", check_tmpdir("files_input"));
    CHECK(bmx_file_mkdir_p(path, &err) == 0);
    CHECK(bmx_file_mkdir_p(path, &err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/in.txt/x", check_tmpdir("files_input"));
    CHECK(bmx_file_mkdir_p(path, &err) == BMX_EIO);
    CHECK_CONTAINS(err.msg, "cannot create directory");
    CHECK_CONTAINS(err.msg, path);
}

/* The ETA's text (bmx_fmt_duration, bmx/core.h): by hand. */
static void test_fmt_duration(void)
{
    char b[32];
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 0), "0m00s");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 59.9), "0m59s");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 754), "12m34s");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 3599.5), "59m59s");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 3600), "1h00m");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 2 * 3600 + 5 * 60 + 59), "2h05m");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 1e7), "2777h46m");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, 1e7 + 1), "?");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, -1), "?");
    CHECK_EQ_STR(bmx_fmt_duration(b, sizeof b, NAN), "?");
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {{"fifo_refused", test_fifo_refused},
                                              {"fmt_duration", test_fmt_duration},
                                              {"directory_refused", test_directory_refused},
                                              {"device_refused", test_device_refused},
                                              {"read_all_bound", test_read_all_bound},
                                              {"read_input_mkdir", test_read_input_and_mkdir},
                                              {0}};
    return check_main(argc, argv, cases);
}
