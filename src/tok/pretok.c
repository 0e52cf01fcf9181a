/* GPT-2's pre-tokenization rule, by hand:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * The alternatives are tried in order at each position, as a backtracking regex would. */
#include "tok_internal.h"

/* End of the run of units of class cls starting at pos. */
static size_t run_end(const unsigned char *s, size_t len, size_t pos, int cls)
{
    while (pos < len) {
        size_t u;
        if (s[pos] < 0x80) {
            if (bmx_tok_ascii_class[s[pos]] != cls)
                break;
            pos++;
            continue;
        }
        if (tok_unit(s, len, pos, &u) != cls)
            break;
        pos += u;
    }
    return pos;
}

size_t bmx_tok_pretoken_end(const unsigned char *s, size_t len, size_t pos)
{
    size_t u, e, last;
    int c, k;

    if (s[pos] == '\'' && pos + 1 < len) {
        unsigned char a = s[pos + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return pos + 2;
        if (pos + 2 < len) {
            unsigned char b = s[pos + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return pos + 3;
        }
    }
    if (s[pos] == ' ' && pos + 1 < len) {
        c = tok_unit(s, len, pos + 1, &u);
        if (c != TOK_SPACE)
            return run_end(s, len, pos + 1 + u, c);
    }
    c = tok_unit(s, len, pos, &u);
    if (c != TOK_SPACE)
        return run_end(s, len, pos + u, c);
    /* whitespace: \s+(?!\S) leaves the last unit of a run followed by non-space to the next
     * token (unless the run is one unit, then \s+ takes it) */
    last = pos;
    e = pos + u;
    k = 1;
    while (e < len && tok_unit(s, len, e, &u) == TOK_SPACE) {
        last = e;
        e += u;
        k++;
    }
    if (e < len && k >= 2)
        return last;
    return e;
}
