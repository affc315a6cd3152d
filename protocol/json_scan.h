/*
 * Zero-copy JSON (RFC 8259) scanner: validates a value in place, then iterates, compares and
 * unescapes slices of it. Never allocates, never recurses: nesting is tracked in a fixed bitset,
 * so hostile input costs O(n) time and O(1) stack. Socket.IO payloads are JSON
 * (docs/protocol.md §2.1).
 */
#ifndef SIO_JSON_SCAN_H
#define SIO_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Hard cap on nesting depth; larger max_depth arguments are clamped to it. */
#define SIO_JSON_DEPTH_CAP 1024u

/** Largest integer sio_json_uint() accepts: 2^53 - 1, the last exactly representable in JS. */
#define SIO_JSON_MAX_SAFE_INT 9007199254740991ull

/** JSON value types, as told by the first non-whitespace byte of a validated value. */
typedef enum sio_json_type {
    SIO_JSON_INVALID = 0,
    SIO_JSON_NULL,
    SIO_JSON_FALSE,
    SIO_JSON_TRUE,
    SIO_JSON_NUMBER,
    SIO_JSON_STRING,
    SIO_JSON_ARRAY,
    SIO_JSON_OBJECT
} sio_json_type;

/**
 * Validates that p[0..n) holds exactly one JSON value, with optional whitespace (space, tab, CR,
 * LF) around it. Strings must be valid UTF-8 without raw control characters, and escapes well
 * formed; like JSON.parse, a \uXXXX escape may name a lone surrogate. Arrays and objects may nest
 * at most max_depth levels (clamped to SIO_JSON_DEPTH_CAP; 0 allows scalars only). Borrows p.
 * Returns 0, SIO_EPROTO (malformed) or SIO_ELIMIT (too deep); on error *reason (if reason is not
 * NULL) is set to a static string.
 */
int sio_json_validate(const char *p, size_t n, unsigned max_depth, const char **reason);

/** Where one element of an array lies: p[off, off + len), p being what was validated. */
typedef struct sio_json_span {
    size_t off;
    size_t len;
} sio_json_span;

/**
 * sio_json_validate(), which also notes where the elements of a top-level array lie, in the same
 * pass: the first cap of them go to elems, and *count is how many there are (it may exceed cap;
 * 0 when the value is not an array or is invalid). Saves a second scan to find the arguments.
 */
int sio_json_validate_array(const char *p, size_t n, unsigned max_depth, const char **reason,
                            sio_json_span *elems, size_t cap, size_t *count);

/** Type of an already-validated value: looks only at its first non-whitespace byte. */
sio_json_type sio_json_type_of(const char *p, size_t n);

/**
 * Iterator over the direct members of a validated array or object. Plain value type: copy it to
 * restart. Fields are private.
 */
typedef struct sio_json_iter {
    const char *p;
    size_t n;
    size_t pos;
    int is_object;
} sio_json_iter;

/**
 * Starts iterating the validated array or object p[0..n) (leading whitespace allowed). Borrows p
 * for the life of the iterator. Returns 0, or SIO_EINVAL when the value is not an array/object.
 */
int sio_json_iter_init(sio_json_iter *it, const char *p, size_t n);

/**
 * Advances to the next member. Returns 1 and sets *val and *val_len to the member's value (an exact
 * slice: no surrounding whitespace) and, for objects, *key and *key_len to the raw key literal
 * including its quotes (NULL/0 for arrays); returns 0 after the last member, and again on every
 * later call. key and key_len may be NULL. Slices borrow the iterated buffer.
 */
int sio_json_iter_next(sio_json_iter *it, const char **key, size_t *key_len, const char **val,
                       size_t *val_len);

/** Token kinds returned by sio_json_reader_next(). */
typedef enum sio_json_token {
    SIO_JSON_TOK_END = 0,      /* input exhausted */
    SIO_JSON_TOK_BEGIN_OBJECT, /* "{" */
    SIO_JSON_TOK_END_OBJECT,   /* "}" */
    SIO_JSON_TOK_BEGIN_ARRAY,  /* "[" */
    SIO_JSON_TOK_END_ARRAY,    /* "]" */
    SIO_JSON_TOK_KEY,          /* object key: string literal including quotes */
    SIO_JSON_TOK_SCALAR        /* string literal (with quotes), number, true, false or null */
} sio_json_token;

/**
 * Flat token stream over a validated value, for walks that need every nesting level without
 * recursion (the caller keeps whatever per-level state it needs). Fields are private.
 */
typedef struct sio_json_reader {
    const char *p;
    size_t n;
    size_t pos;
} sio_json_reader;

/** Starts reading the validated value p[0..n). Borrows p for the life of the reader. */
void sio_json_reader_init(sio_json_reader *r, const char *p, size_t n);

/**
 * Returns the next token and sets *tok and *tok_len to its bytes (borrowed from the input). Commas,
 * colons and whitespace are skipped. Never reads outside the input, even if it was not
 * validated (the tokens are then meaningless).
 */
sio_json_token sio_json_reader_next(sio_json_reader *r, const char **tok, size_t *tok_len);

/**
 * Unescapes the validated string literal lit[0..n) (including its quotes) into out as UTF-8 and
 * NUL-terminates it. A lone surrogate escape becomes U+FFFD, as JS TextEncoder would write it.
 * Returns the unescaped length (excluding the NUL), SIO_ELIMIT when it needs more than cap bytes
 * with the NUL (out is then unspecified), or SIO_EINVAL when lit is not a quoted literal.
 */
ssize_t sio_json_string_unescape(const char *lit, size_t n, char *out, size_t cap);

/**
 * True when the validated string literal lit[0..n) (including quotes) unescapes to exactly the
 * bytes s[0..slen). Escapes are honoured, so "\u0063onnect" equals "connect". No copy is made.
 */
bool sio_json_string_eq(const char *lit, size_t n, const char *s, size_t slen);

/**
 * Finds the string member name of the object member outer of the validated object p[0..n) (the
 * first of each, keys compared unescaped), as {"query": {"EIO": "4"}} holds "EIO" under "query",
 * and unescapes it into out (cap, NUL added). Returns its length, SIO_ENOTFOUND when either
 * member is missing (or p, or outer's value, is not an object), or SIO_ELIMIT when the value is
 * not a string or needs more than cap bytes with the NUL.
 */
ssize_t sio_json_nested_string(const char *p, size_t n, const char *outer, const char *name,
                               char *out, size_t cap);

/**
 * Parses the number p[0..n) (surrounding whitespace ignored) as a non-negative integer without
 * fraction, exponent, sign or leading zeros. Returns 0 and sets *out, SIO_EPROTO when it is not
 * such an integer, or SIO_ELIMIT when it exceeds SIO_JSON_MAX_SAFE_INT.
 */
int sio_json_uint(const char *p, size_t n, uint64_t *out);

/**
 * Writes s[0..n) as a JSON string literal (quotes included) to out. Escapes '"', '\' and control
 * characters; invalid UTF-8 bytes are written as \ufffd so the result is always valid JSON.
 * snprintf semantics: writes at most cap bytes including a terminating NUL (when cap > 0) and
 * returns the literal's full length; the output is complete only if the result is < cap. out may
 * be NULL when cap is 0.
 */
size_t sio_json_write_string(char *out, size_t cap, const char *s, size_t n);

#endif
