/* src/runlog/jsonv.h - a small JSON parser into a value tree (internal to runlog). */
#ifndef BMX_RUNLOG_JSONV_H
#define BMX_RUNLOG_JSONV_H

#include <stddef.h>

enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

typedef struct jv {
    int type;
    double num;       /* JV_NUM, JV_BOOL (0/1) */
    char *str;        /* JV_STR (NUL-terminated) */
    struct jv *items; /* JV_ARR, JV_OBJ values */
    char **keys;      /* JV_OBJ */
    size_t n;
} jv;

/* Parse text[0..len) as exactly one JSON value; returns 0, or -1 with a message in msg. */
int jv_parse(const char *text, size_t len, jv *out, char *msg, size_t msg_cap);
void jv_free(jv *v);
/* Member of an object, or NULL. */
const jv *jv_get(const jv *o, const char *key);

#endif
