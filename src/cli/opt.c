/* The option parser shared by every bmx subcommand (cli.h). */
#include "cli.h"

#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "bmx %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_error(const char *cmd, const bmx_err *err)
{
    fprintf(stderr, "bmx %s: %s\n", cmd, err->msg);
    return 1;
}

static void usage_print(const char *usage, const struct cli_opt *opts)
{
    printf("%s\n", usage);
    if (opts && opts->name)
        printf("\noptions:\n");
    for (const struct cli_opt *o = opts; o && o->name; o++) {
        static const char *meta[] = {"S", "N", "N", "N", "X", ""};
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->type == CLI_FLAG ? "" : " ",
                 meta[o->type]);
        printf("  %-24s %s", left, o->help);
        if (o->type == CLI_INT)
            printf(" (default %d)", *(int *)o->ptr);
        else if (o->type == CLI_LONG)
            printf(" (default %ld)", *(long *)o->ptr);
        else if (o->type == CLI_U64)
            printf(" (default %" PRIu64 ")", *(uint64_t *)o->ptr);
        else if (o->type == CLI_DOUBLE)
            printf(" (default %g)", *(double *)o->ptr);
        else if (o->type == CLI_STR && *(const char **)o->ptr)
            printf(" (default %s)", *(const char **)o->ptr);
        printf("\n");
    }
    printf("  %-24s %s\n", "--help", "print this help and exit");
}

/* The value of o from v; 0, or -1 after printing what was wrong. */
static int set_value(const char *cmd, const struct cli_opt *o, const char *v)
{
    char name[64];
    bmx_err err = {0};

    snprintf(name, sizeof name, "--%s", o->name);
    if (o->type == CLI_FLAG)
        *(int *)o->ptr = 1;
    else if (bmx_config_value_set((enum bmx_run_key_type)o->type, o->ptr, name, v, &err) < 0)
        return cli_fail(cmd, "%s", err.msg), -1;
    return 0;
}

int cli_parse(int argc, char **argv, const char *usage, const struct cli_opt *opts, int max_pos)
{
    const char *cmd = argv[0];
    int n = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct cli_opt *o;
        const char *eq, *val = NULL;
        size_t len;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_print(usage, opts);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (n >= max_pos)
                return cli_fail(cmd, "unexpected argument '%s' (see 'bmx %s --help')", a, cmd), -3;
            argv[++n] = argv[i]; /* n < i: a slot already read */
            continue;
        }
        eq = strchr(a + 2, '=');
        len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        for (o = opts; o && o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, a + 2, len) == 0)
                break;
        if (!o || !o->name)
            return cli_fail(cmd, "unknown option '%.*s' (see 'bmx %s --help')", (int)len + 2, a,
                            cmd),
                   -3;
        if (o->type == CLI_FLAG) {
            if (eq)
                return cli_fail(cmd, "--%s takes no value", o->name), -3;
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return cli_fail(cmd, "--%s needs a value (see 'bmx %s --help')", o->name, cmd), -3;
        }
        if (set_value(cmd, o, val) < 0)
            return -3;
    }
    return n;
}

static void subs_usage(FILE *f, const char *group, const struct cli_sub *subs)
{
    fprintf(f, "usage: bmx %s ", group);
    for (const struct cli_sub *c = subs; c->name; c++)
        fprintf(f, "%s%s", c == subs ? "" : "|", c->name);
    fprintf(f, " [OPTIONS]   (bmx %s SUB --help for its options)\n\n", group);
    for (const struct cli_sub *c = subs; c->name; c++)
        fprintf(f, "  %-8s %s\n", c->name, c->help);
}

int cli_dispatch(int argc, char **argv, const struct cli_sub *subs)
{
    const char *group = argv[0];
    char name[96]; /* "GROUP SUB", argv[0] of the subcommand: lives through its call */

    if (argc < 2) {
        subs_usage(stderr, group, subs);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        subs_usage(stdout, group, subs);
        return 0;
    }
    for (int i = 0; subs[i].name; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        snprintf(name, sizeof name, "%s %s", group, subs[i].name);
        argv[1] = name;
        return subs[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "bmx %s: unknown subcommand '%s'; use one of:", group, argv[1]);
    for (const struct cli_sub *c = subs; c->name; c++)
        fprintf(stderr, " %s", c->name);
    fputc('\n', stderr);
    return 2;
}

const char *cli_scripts_dir(const char *sub, char *buf, size_t len)
{
    const char *root = getenv("BMX_ROOT");
    char exe[PATH_MAX];
    ssize_t n;

    if (root) {
        snprintf(buf, len, "%s/scripts/%s", root, sub);
        if (access(buf, F_OK) == 0)
            return buf;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (strrchr(exe, '/')) {
        *strrchr(exe, '/') = '\0';
        snprintf(buf, len, "%s/../scripts/%s", exe, sub);
        if (access(buf, F_OK) == 0) {
            char *r = realpath(buf, NULL);
            if (r && strlen(r) < len)
                strcpy(buf, r);
            free(r);
            return buf;
        }
    }
    snprintf(buf, len, "scripts/%s", sub);
    return buf;
}
