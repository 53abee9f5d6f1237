/* Recursive-descent HuJSON parser with positions. Depth and value count are bounded. */
#include "server/policy/hujson.h"
#include "server/policy/policy_limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hjp {
    const char *s;
    size_t len, off;
    int line, col;
    size_t items;
    struct hj_error *err;
    bool failed;
};

static void fail(struct hjp *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err->line = line;
    p->err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

static int peek(const struct hjp *p) { return p->off < p->len ? (unsigned char)p->s[p->off] : -1; }

static void adv(struct hjp *p)
{
    if (p->off >= p->len)
        return;
    if (p->s[p->off] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->off++;
}

static void skip_ws(struct hjp *p)
{
    for (;;) {
        int c = peek(p);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            adv(p);
        } else if (c == '/' && p->off + 1 < p->len && p->s[p->off + 1] == '/') {
            while (peek(p) != -1 && peek(p) != '\n')
                adv(p);
        } else if (c == '/' && p->off + 1 < p->len && p->s[p->off + 1] == '*') {
            int l = p->line, co = p->col;
            adv(p);
            adv(p);
            while (!(peek(p) == '*' && p->off + 1 < p->len && p->s[p->off + 1] == '/')) {
                if (peek(p) == -1) {
                    fail(p, l, co, "unterminated comment");
                    return;
                }
                adv(p);
            }
            adv(p);
            adv(p);
        } else {
            return;
        }
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *parse_string(struct hjp *p)
{
    int l = p->line, co = p->col;
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    if (!out) {
        fail(p, l, co, "out of memory");
        return NULL;
    }
    adv(p); /* opening quote */
    for (;;) {
        int c = peek(p);
        if (c == -1 || c == '\n') {
            fail(p, l, co, "unterminated string");
            goto err;
        }
        if (c < 0x20) {
            fail(p, p->line, p->col, "control character in string");
            goto err;
        }
        if (n + 5 >= cap) {
            char *t = realloc(out, cap *= 2);
            if (!t) {
                fail(p, l, co, "out of memory");
                goto err;
            }
            out = t;
        }
        if (c == '"') {
            adv(p);
            break;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            adv(p);
            continue;
        }
        int el = p->line, ec = p->col;
        adv(p);
        c = peek(p);
        adv(p);
        switch (c) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned v = 0;
            for (int i = 0; i < 4; i++) {
                int h = hexval(peek(p));
                if (h < 0) {
                    fail(p, el, ec, "bad \\u escape");
                    goto err;
                }
                v = v << 4 | (unsigned)h;
                adv(p);
            }
            if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
                fail(p, el, ec, "unsupported \\u escape (NUL or surrogate)");
                goto err;
            }
            if (v < 0x80) {
                out[n++] = (char)v;
            } else if (v < 0x800) {
                out[n++] = (char)(0xc0 | v >> 6);
                out[n++] = (char)(0x80 | (v & 0x3f));
            } else {
                out[n++] = (char)(0xe0 | v >> 12);
                out[n++] = (char)(0x80 | ((v >> 6) & 0x3f));
                out[n++] = (char)(0x80 | (v & 0x3f));
            }
            break;
        }
        default:
            fail(p, el, ec, "bad escape in string");
            goto err;
        }
    }
    out[n] = '\0';
    return out;
err:
    free(out);
    return NULL;
}

static bool parse_value(struct hjp *p, struct hj_node *n, int depth);

static bool push_kid(struct hjp *p, struct hj_node *n, size_t *cap)
{
    if (++p->items > POLICY_MAX_ITEMS) {
        fail(p, p->line, p->col, "too many values (limit %d)", POLICY_MAX_ITEMS);
        return false;
    }
    if (n->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct hj_node *k = realloc(n->kids, nc * sizeof(*k));
        if (!k) {
            fail(p, p->line, p->col, "out of memory");
            return false;
        }
        n->kids = k;
        *cap = nc;
    }
    memset(&n->kids[n->n++], 0, sizeof(*n->kids));
    return true;
}

static bool parse_container(struct hjp *p, struct hj_node *n, int depth)
{
    bool obj = peek(p) == '{';
    int close = obj ? '}' : ']';
    size_t cap = 0;
    n->type = obj ? HJ_OBJECT : HJ_ARRAY;
    if (depth >= POLICY_MAX_DEPTH) {
        fail(p, p->line, p->col, "nesting deeper than %d", POLICY_MAX_DEPTH);
        return false;
    }
    adv(p);
    for (;;) {
        skip_ws(p);
        if (p->failed)
            return false;
        if (peek(p) == close) {
            adv(p);
            return true;
        }
        if (!push_kid(p, n, &cap))
            return false;
        struct hj_node *k = &n->kids[n->n - 1];
        if (obj) {
            if (peek(p) != '"') {
                fail(p, p->line, p->col, "expected a quoted member name or '}'");
                return false;
            }
            k->key_line = p->line;
            k->key_col = p->col;
            k->key = parse_string(p);
            if (!k->key)
                return false;
            for (size_t i = 0; i + 1 < n->n; i++)
                if (!strcmp(n->kids[i].key, k->key)) {
                    fail(p, k->key_line, k->key_col, "duplicate member \"%s\"", k->key);
                    return false;
                }
            skip_ws(p);
            if (peek(p) != ':') {
                fail(p, p->line, p->col, "expected ':' after member name");
                return false;
            }
            adv(p);
            skip_ws(p);
        }
        if (!parse_value(p, k, depth + 1))
            return false;
        skip_ws(p);
        if (peek(p) == ',') {
            adv(p);
            continue; /* a trailing comma before the close is accepted */
        }
        if (peek(p) != close) {
            fail(p, p->line, p->col, "expected ',' or '%c'", close);
            return false;
        }
    }
}

static bool parse_number(struct hjp *p, struct hj_node *n)
{
    char buf[64];
    size_t k = 0;
    int l = p->line, co = p->col;
    while (k + 1 < sizeof(buf)) {
        int c = peek(p);
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            break;
        buf[k++] = (char)c;
        adv(p);
    }
    buf[k] = '\0';
    char *end;
    n->type = HJ_NUMBER;
    n->num = strtod(buf, &end);
    if (k == 0 || *end || (buf[0] == '0' && k > 1 && buf[1] != '.' && buf[1] != 'e' &&
                           buf[1] != 'E') || buf[0] == '+' || buf[0] == '.') {
        fail(p, l, co, "bad number");
        return false;
    }
    return true;
}

static bool match_word(struct hjp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->len - p->off < l || memcmp(p->s + p->off, w, l))
        return false;
    for (size_t i = 0; i < l; i++)
        adv(p);
    return true;
}

static bool parse_value(struct hjp *p, struct hj_node *n, int depth)
{
    skip_ws(p);
    if (p->failed)
        return false;
    n->line = p->line;
    n->col = p->col;
    int c = peek(p);
    if (c == '{' || c == '[')
        return parse_container(p, n, depth);
    if (c == '"') {
        n->type = HJ_STRING;
        n->str = parse_string(p);
        return n->str != NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, n);
    if (match_word(p, "true")) {
        n->type = HJ_BOOL;
        n->b = true;
        return true;
    }
    if (match_word(p, "false")) {
        n->type = HJ_BOOL;
        return true;
    }
    if (match_word(p, "null")) {
        n->type = HJ_NULL;
        return true;
    }
    if (c == -1)
        fail(p, p->line, p->col, "unexpected end of input");
    else
        fail(p, p->line, p->col, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
    return false;
}

static void node_clear(struct hj_node *n)
{
    for (size_t i = 0; i < n->n; i++)
        node_clear(&n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->str);
}

void hj_free(struct hj_node *n)
{
    if (!n)
        return;
    node_clear(n);
    free(n);
}

bool hj_parse(const char *text, size_t len, struct hj_node **out, struct hj_error *err)
{
    struct hjp p = {.s = text, .len = len, .line = 1, .col = 1, .err = err};
    struct hj_node *root = calloc(1, sizeof(*root));
    *out = NULL;
    memset(err, 0, sizeof(*err));
    if (!root) {
        fail(&p, 1, 1, "out of memory");
        return false;
    }
    if (len > POLICY_MAX_BYTES) {
        fail(&p, 1, 1, "document larger than %u bytes", POLICY_MAX_BYTES);
    } else if (memchr(text, '\0', len)) {
        const char *z = memchr(text, '\0', len);
        while (p.off < (size_t)(z - text))
            adv(&p);
        fail(&p, p.line, p.col, "NUL byte in document");
    } else if (parse_value(&p, root, 0)) {
        skip_ws(&p);
        if (!p.failed && p.off != p.len)
            fail(&p, p.line, p.col, "trailing data after the document");
    }
    if (p.failed) {
        hj_free(root);
        return false;
    }
    *out = root;
    return true;
}

const struct hj_node *hj_get(const struct hj_node *obj, const char *key)
{
    if (!obj || obj->type != HJ_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->kids[i].key, key))
            return &obj->kids[i];
    return NULL;
}

const char *hj_type_name(enum hj_type t)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return names[t];
}
