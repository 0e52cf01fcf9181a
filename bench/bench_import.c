/* bench_import - the speed of bmx corpus import on one core.
 *
 * Writes a Pile-shaped JSON Lines file of BMX_BENCH_IMPORT_MB MB (default 150): records
 * {"text": ..., "meta": {"pile_set_name": ...}} over the 22 set names of The Pile, text of
 * 1-8 KB from a Zipf-distributed vocabulary of generated words, with sentences, escaped line
 * breaks and quotes, \u escapes and raw UTF-8; then its .zst (zstd -3, one thread). Every
 * command runs on one CPU (this process pins itself; the peers run under taskset on the same
 * CPU), in one run, each timed BMX_BENCH_IMPORT_REPS times (default 3, median):
 *   bmx plain / bmx zst   bmx_corpus_import of the file (the whole import: parse, normalise,
 *                         filter, deduplicate, split, write the corpus and the manifest; the
 *                         output goes to /dev/shm when it exists, else /tmp)
 *   floor zst             zstd -dc FILE.zst | wc -l   (the decompression floor)
 *   floor plain           wc -l < FILE
 *   python plain / zst    a plain Python loop: json.loads of each line, the text and
 *                         meta.pile_set_name taken (zst: zstd -dc FILE.zst | python3 ...)
 * MB/s are of the uncompressed JSONL bytes. Wall-clock figures suffer from other load on a
 * shared machine; the CPU figures (this process, or the children for the peers) much less.
 * Prints one JSON object last (BMX_BENCH_IMPORT_KEEP=1: keeps the files and says where).
 */
#include "bmx/corpus.h"
#include "bmx/rng.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static const char *const sets[] = {"Pile-CC",
                                   "PubMed Central",
                                   "Books3",
                                   "OpenWebText2",
                                   "ArXiv",
                                   "Github",
                                   "FreeLaw",
                                   "StackExchange",
                                   "USPTO Backgrounds",
                                   "PubMed Abstracts",
                                   "Gutenberg (PG-19)",
                                   "OpenSubtitles",
                                   "Wikipedia (en)",
                                   "DM Mathematics",
                                   "Ubuntu IRC",
                                   "BookCorpus2",
                                   "EuroParl",
                                   "HackerNews",
                                   "YoutubeSubtitles",
                                   "PhilPapers",
                                   "NIH ExPorter",
                                   "Enron Emails"};

#define NWORDS 8192

static double child_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Run a shell command; wall and CPU seconds of its processes. */
static int run_cmd(const char *cmd, double *wall, double *cpu)
{
    double c0 = child_cpu(), t0 = bench_now();
    int rc = system(cmd);
    *wall = bench_now() - t0;
    *cpu = child_cpu() - c0;
    if (rc != 0)
        fprintf(stderr, "bench_import: '%s' failed (%d)\n", cmd, rc);
    return rc;
}

static size_t gen(const char *path, size_t target)
{
    FILE *f = fopen(path, "wb");
    bmx_rng r;
    static char words[NWORDS][16];
    static double cdf[NWORDS];
    double sum = 0;
    size_t total = 0;
    char *doc = malloc(1 << 16);

    if (!f || !doc)
        return 0;
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    bmx_rng_seed(&r, 42, 0);
    for (int i = 0; i < NWORDS; i++) {
        int len = 2 + (int)bmx_rng_below(&r, 8);
        for (int k = 0; k < len; k++)
            words[i][k] = (char)('a' + bmx_rng_below(&r, 26));
        words[i][len] = '\0';
        sum += 1.0 / (i + 1.0);
        cdf[i] = sum;
    }
    for (int i = 0; i < NWORDS; i++)
        cdf[i] /= sum;
    while (total < target) {
        size_t n = 0, want = 1000 + bmx_rng_below(&r, 7000);
        int w = 0;
        n += (size_t)sprintf(doc, "{\"text\": \"");
        while (n < want) {
            size_t i = bmx_rng_categorical_cdf(&r, cdf, NWORDS);
            uint64_t u = bmx_rng_below(&r, 1000);
            const char *s = words[i];
            if (u < 5)
                s = "caf\\u00e9";
            else if (u < 10)
                s = "na\xC3\xAFve";
            else if (u < 13)
                s = "\\\"quoted\\\"";
            {
                size_t at = n + (w ? 1 : 0);
                n += (size_t)sprintf(doc + n, w ? " %s" : "%s", s);
                if (w == 0 && doc[at] >= 'a' && doc[at] <= 'z')
                    doc[at] = (char)(doc[at] - 32);
            }
            if (++w > 8 + (int)bmx_rng_below(&r, 12)) {
                n += (size_t)sprintf(doc + n, bmx_rng_below(&r, 6) ? ". " : ".\\n\\n");
                w = 0;
            }
        }
        n += (size_t)sprintf(doc + n, "\", \"meta\": {\"pile_set_name\": \"%s\"}}\n",
                             sets[bmx_rng_below(&r, 22)]);
        fwrite(doc, 1, n, f);
        total += n;
    }
    free(doc);
    return fclose(f) == 0 ? total : 0;
}

static int import(const char *in, const char *out, double *wall, double *cpu, bmx_import_result *r)
{
    bmx_import_src src = {BMX_IMPORT_JSONL, in, NULL};
    bmx_import_opts o;
    bmx_err err;
    double c0 = bench_cpu_s(), t0 = bench_now();
    int rc;

    memset(&o, 0, sizeof o);
    o.out_dir = out;
    o.src = &src;
    o.nsrc = 1;
    o.domain_key = "meta.pile_set_name";
    o.split[0] = 98;
    o.split[1] = 1;
    o.split[2] = 1;
    rc = bmx_corpus_import(&o, r, &err);
    *wall = bench_now() - t0;
    *cpu = bench_cpu_s() - c0;
    if (rc)
        fprintf(stderr, "bench_import: %s\n", err.msg);
    return rc;
}

enum { BMX_PLAIN, BMX_ZST, FLOOR_ZST, FLOOR_PLAIN, PY_PLAIN, PY_ZST, NCASE };
static const char *const case_name[NCASE] = {"bmx plain",   "bmx zst",      "floor zst",
                                             "floor plain", "python plain", "python zst"};
static const char *const case_key[NCASE] = {"bmx_plain",   "bmx_zst",      "floor_zst",
                                            "floor_plain", "python_plain", "python_zst"};

int main(void)
{
    const char *mbs = getenv("BMX_BENCH_IMPORT_MB"), *reps_s = getenv("BMX_BENCH_IMPORT_REPS");
    size_t target = (size_t)(mbs ? atof(mbs) : 150.0) * 1000000u, bytes;
    int reps = reps_s ? atoi(reps_s) : 3, cpu = 0;
    char dir[64], file[128], zst[160], out[160], cmd[1024];
    static const char py[] = "import json, sys\n"
                             "n = 0\n"
                             "for line in sys.stdin.buffer:\n"
                             "    d = json.loads(line)\n"
                             "    t = d['text']; s = d['meta']['pile_set_name']; n += 1\n"
                             "print(n)\n";
    char pyfile[200];
    double wall[NCASE][16], cpus[NCASE][16], mw[NCASE], mc[NCASE];
    bmx_import_result r = {0};
    cpu_set_t set;
    struct stat sb;
    FILE *f;

    if (reps < 1 || reps > 16)
        reps = 3;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
            cpu++;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    snprintf(dir, sizeof dir, "%s/bmx_bench_import_XXXXXX",
             stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_import: mkdtemp");
        return 1;
    }
    snprintf(file, sizeof file, "%s/pile.jsonl", dir);
    snprintf(zst, sizeof zst, "%s.zst", file);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(pyfile, sizeof pyfile, "%s/loop.py", dir);
    f = fopen(pyfile, "w");
    if (!f || fputs(py, f) < 0 || fclose(f) != 0)
        return 1;
    bytes = gen(file, target);
    snprintf(cmd, sizeof cmd, "taskset -c %d zstd -q -f -3 -T1 '%s' -o '%s'", cpu, file, zst);
    if (!bytes || system(cmd) != 0 || stat(zst, &sb) != 0) {
        fprintf(stderr, "bench_import: could not write the test files (zstd installed?)\n");
        return 1;
    }
    printf("bench_import: %.1f MB of JSONL (%.1f MB as .zst, ratio %.2f), CPU %d, %d reps\n",
           bytes / 1e6, sb.st_size / 1e6, (double)bytes / (double)sb.st_size, cpu, reps);
    for (int k = 0; k < reps; k++) {
        for (int c = 0; c < NCASE; c++) {
            int rc = 0;
            switch (c) {
            case BMX_PLAIN:
            case BMX_ZST:
                rc = import(c == BMX_PLAIN ? file : zst, out, &wall[c][k], &cpus[c][k], &r);
                break;
            case FLOOR_ZST:
                snprintf(cmd, sizeof cmd,
                         "taskset -c %d sh -c \"zstd -dc '%s' | wc -l\" >/dev/null", cpu, zst);
                rc = run_cmd(cmd, &wall[c][k], &cpus[c][k]);
                break;
            case FLOOR_PLAIN:
                snprintf(cmd, sizeof cmd, "taskset -c %d sh -c \"wc -l < '%s'\" >/dev/null", cpu,
                         file);
                rc = run_cmd(cmd, &wall[c][k], &cpus[c][k]);
                break;
            case PY_PLAIN:
                snprintf(cmd, sizeof cmd, "taskset -c %d python3 '%s' < '%s' >/dev/null", cpu,
                         pyfile, file);
                rc = run_cmd(cmd, &wall[c][k], &cpus[c][k]);
                break;
            case PY_ZST:
                snprintf(cmd, sizeof cmd,
                         "taskset -c %d sh -c \"zstd -dc '%s' | python3 '%s'\" >/dev/null", cpu,
                         zst, pyfile);
                rc = run_cmd(cmd, &wall[c][k], &cpus[c][k]);
                break;
            }
            if (rc)
                return 1;
        }
    }
    printf("bench_import: bmx kept %llu of %llu documents, %llu bad\n", (unsigned long long)r.kept,
           (unsigned long long)r.records, (unsigned long long)r.bad);
    printf("%-14s %10s %10s %10s %10s\n", "case", "wall s", "MB/s wall", "cpu s", "MB/s cpu");
    for (int c = 0; c < NCASE; c++) {
        mw[c] = bench_median(wall[c], reps);
        mc[c] = bench_median(cpus[c], reps);
        printf("%-14s %10.3f %10.1f %10.3f %10.1f\n", case_name[c], mw[c], bytes / 1e6 / mw[c],
               mc[c], bytes / 1e6 / mc[c]);
    }
    printf("bmx zst / floor zst: %.2fx the time (wall), %.2fx (cpu); bmx zst / python zst: "
           "%.2fx (wall)\n",
           mw[BMX_ZST] / mw[FLOOR_ZST], mc[BMX_ZST] / mc[FLOOR_ZST], mw[BMX_ZST] / mw[PY_ZST]);
    printf("{\"bench\":\"import\",\"bytes\":%zu,\"zst_bytes\":%lld,\"reps\":%d", bytes,
           (long long)sb.st_size, reps);
    for (int c = 0; c < NCASE; c++)
        printf(",\"%s_mb_s\":%.1f,\"%s_cpu_mb_s\":%.1f", case_key[c], bytes / 1e6 / mw[c],
               case_key[c], bytes / 1e6 / mc[c]);
    printf(",\"zst_vs_floor_wall\":%.3f,\"zst_vs_floor_cpu\":%.3f}\n", mw[BMX_ZST] / mw[FLOOR_ZST],
           mc[BMX_ZST] / mc[FLOOR_ZST]);
    if (getenv("BMX_BENCH_IMPORT_KEEP")) {
        printf("bench_import: the files are kept in %s\n", dir);
        return 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_import: could not remove %s\n", dir);
    return 0;
}
