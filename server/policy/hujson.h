/* HuJSON ("human JSON") parser: JSON plus // and block comments and trailing commas. Produces a
 * tree in which every value (and every object key) carries its line and column (1-based, columns
 * counted in bytes), so that validation errors can point at the text. */
#ifndef ZTNA_POLICY_HUJSON_H
#define ZTNA_POLICY_HUJSON_H

#include <stdbool.h>
#include <stddef.h>

enum hj_type { HJ_NULL, HJ_BOOL, HJ_NUMBER, HJ_STRING, HJ_ARRAY, HJ_OBJECT };

struct hj_node {
    enum hj_type type;
    int line, col;         /* of the value */
    char *key;             /* member name when the parent is an object, else NULL */
    int key_line, key_col; /* of the member name */
    bool b;
    double num;
    char *str;             /* HJ_STRING, NUL-terminated (embedded NUL rejected) */
    size_t n;              /* array items / object members */
    struct hj_node *kids;
};

struct hj_error {
    int line, col;
    char msg[200];
};

/* Parses text[0..len). *out is new: free with hj_free(). false with *err filled on error. */
bool hj_parse(const char *text, size_t len, struct hj_node **out, struct hj_error *err);
void hj_free(struct hj_node *n);
/* Borrowed member of an object, or NULL. */
const struct hj_node *hj_get(const struct hj_node *obj, const char *key);
const char *hj_type_name(enum hj_type t);

#endif
