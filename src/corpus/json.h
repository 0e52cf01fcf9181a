/* src/corpus/json.h - a small JSON document model (internal to the corpus module).
 *
 * Used to write the corpus manifest and to update it in place (token counts after sharding).
 * Objects keep their keys in insertion order and numbers keep their text, so a document
 * that is read and written again comes out byte for byte as it went in (given the same
 * pretty-printing). Constructors return NULL when memory runs out; j_set / j_push take
 * ownership of the value (freeing it on failure) and return 0 or -1.
 */
#ifndef BMX_CORPUS_JSON_H
#define BMX_CORPUS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jval {
    enum jtype t;
    int b;         /* J_BOOL */
    char *s;       /* J_STR (UTF-8, NUL-free) or J_NUM (its JSON text) */
    size_t n, cap; /* J_ARR / J_OBJ: number of items */
    char **keys;   /* J_OBJ */
    struct jval **items;
} jval;

jval *j_null(void);
jval *j_bool(int b);
jval *j_u64(uint64_t x);
jval *j_str(const char *s);
jval *j_strn(const char *s, size_t n);
jval *j_arr(void);
jval *j_obj(void);
void j_free(jval *v);

int j_push(jval *arr, jval *v);
/* Set key in obj: replaces the value in place when the key exists, else appends. */
int j_set(jval *obj, const char *key, jval *v);
jval *j_get(const jval *obj, const char *key);
/* The number's value when v is a non-negative integer J_NUM; -1 otherwise. */
int j_as_u64(const jval *v, uint64_t *out);

/* Pretty-print (2-space indent, a final newline). Returns 0 or -1 on a write error. */
int j_write(const jval *v, FILE *f);
/* Parse a whole document; on error NULL with a message naming the byte offset in why. */
jval *j_parse(const char *text, size_t len, char *why, size_t why_len);

#endif
