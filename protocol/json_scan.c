/*
 * JSON scanner (RFC 8259): an iterative validator with an explicit nesting bitset, plus helpers
 * that work on slices of validated input. Must not allocate, log or recurse. Acceptance follows
 * JSON.parse, which socket.io-parser uses to decode payloads.
 */
#include "json_scan.h"

#include "hex.h"

#include <string.h>

#include <sio/error.h>

/* Validator state. kinds holds one bit per open container: set for an object, clear for an array,
 * which is all a closing bracket or a comma needs to know. */
struct scanner {
    const char *p;
    size_t n;
    size_t pos;
    unsigned depth;
    unsigned max_depth;
    const char *reason;
    unsigned char kinds[SIO_JSON_DEPTH_CAP / 8];
};

/* Returned by the step functions once the top-level value is complete. */
#define SCAN_DONE 1

static int fail(struct scanner *s, int err, const char *why)
{
    s->reason = why;
    return err;
}

static bool is_ws(char c)
{
    /* RFC 8259 section 2: only these four; JSON.parse rejects NBSP, BOM and friends. */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_ws(struct scanner *s)
{
    while (s->pos < s->n && is_ws(s->p[s->pos]))
        s->pos++;
}

/* Reads 4 hex digits at p[0..4) into a code unit; -1 if any is not hex. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = sio_hex_value((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 section 4: no overlong forms, no
 * UTF-16 surrogates, nothing above U+10FFFF), or 0 when it is ill-formed or truncated. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len)
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

static int scan_escape(struct scanner *s)
{
    /* s->pos is just past the backslash. */
    if (s->pos == s->n)
        return fail(s, SIO_EPROTO, "json: unterminated string");
    switch (s->p[s->pos]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        s->pos++;
        return 0;
    case 'u':
        /* Any four hex digits: JSON.parse accepts lone surrogates, so no pairing check here. */
        if (s->n - s->pos < 5 || hex4(s->p + s->pos + 1) < 0)
            return fail(s, SIO_EPROTO, "json: invalid \\u escape");
        s->pos += 5;
        return 0;
    default:
        return fail(s, SIO_EPROTO, "json: invalid escape");
    }
}

/* Eight bytes at a time: true when none of p[0..8) ends the fast path of scan_string (a byte
 * below 0x20 or from 0x80, '"', '\\'). Each test sets the high bit of a byte that matches:
 * x - 0x01.. & ~x & 0x80.. finds zero bytes, and "below 0x20" is "x - 0x20.. borrows". */
static bool plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t quote = x ^ (ones * '"'), bslash = x ^ (ones * '\\');
    uint64_t hit =
        x | ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash);
    return !(hit & highs);
}

static int scan_string(struct scanner *s)
{
    const unsigned char *u = (const unsigned char *)s->p;

    s->pos++; /* opening quote */
    for (;;) {
        /* Fast path over printable ASCII, the bulk of real payloads. The position is a local:
         * u may alias *s (it is a char pointer), so s->pos would be reloaded at every byte. */
        size_t pos = s->pos, n = s->n;
        while (n - pos >= 8 && plain8(u + pos))
            pos += 8;
        while (pos < n) {
            unsigned char ch = u[pos];
            if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\')
                break;
            pos++;
        }
        s->pos = pos;
        if (s->pos == s->n)
            return fail(s, SIO_EPROTO, "json: unterminated string");
        unsigned char c = u[s->pos];
        if (c == '"') {
            s->pos++;
            return 0;
        }
        if (c == '\\') {
            s->pos++;
            int rc = scan_escape(s);
            if (rc != 0)
                return rc;
            continue;
        }
        if (c < 0x20)
            return fail(s, SIO_EPROTO, "json: control character in string");
        size_t len = utf8_seq_len(u + s->pos, s->n - s->pos);
        if (len == 0)
            return fail(s, SIO_EPROTO, "json: invalid utf-8 in string");
        s->pos += len;
    }
}

static size_t skip_digits(struct scanner *s)
{
    size_t start = s->pos;
    while (s->pos < s->n && is_digit(s->p[s->pos]))
        s->pos++;
    return s->pos - start;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scanner *s)
{
    if (s->p[s->pos] == '-')
        s->pos++;
    if (s->pos == s->n || !is_digit(s->p[s->pos]))
        return fail(s, SIO_EPROTO, "json: invalid number");
    if (s->p[s->pos] == '0') {
        s->pos++;
        if (s->pos < s->n && is_digit(s->p[s->pos]))
            return fail(s, SIO_EPROTO, "json: number with leading zero");
    } else {
        skip_digits(s);
    }
    if (s->pos < s->n && s->p[s->pos] == '.') {
        s->pos++;
        if (skip_digits(s) == 0)
            return fail(s, SIO_EPROTO, "json: invalid number fraction");
    }
    if (s->pos < s->n && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
        s->pos++;
        if (s->pos < s->n && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
            s->pos++;
        if (skip_digits(s) == 0)
            return fail(s, SIO_EPROTO, "json: invalid number exponent");
    }
    return 0;
}

static int scan_literal(struct scanner *s, const char *lit, size_t len)
{
    if (s->n - s->pos < len || memcmp(s->p + s->pos, lit, len) != 0)
        return fail(s, SIO_EPROTO, "json: invalid literal");
    s->pos += len;
    return 0;
}

static int scan_scalar(struct scanner *s)
{
    char c = s->p[s->pos];

    if (c == '"')
        return scan_string(s);
    if (c == '-' || is_digit(c))
        return scan_number(s);
    if (c == 't')
        return scan_literal(s, "true", 4);
    if (c == 'f')
        return scan_literal(s, "false", 5);
    if (c == 'n')
        return scan_literal(s, "null", 4);
    return fail(s, SIO_EPROTO, "json: unexpected character");
}

/* An object member starts with a string key and a colon; the value follows. */
static int scan_key(struct scanner *s)
{
    skip_ws(s);
    if (s->pos == s->n || s->p[s->pos] != '"')
        return fail(s, SIO_EPROTO, "json: expected string key");
    int rc = scan_string(s);
    if (rc != 0)
        return rc;
    skip_ws(s);
    if (s->pos == s->n || s->p[s->pos] != ':')
        return fail(s, SIO_EPROTO, "json: expected ':'");
    s->pos++;
    return 0;
}

static bool top_is_object(const struct scanner *s)
{
    unsigned i = s->depth - 1;
    return (s->kinds[i / 8] >> (i % 8)) & 1;
}

static int push(struct scanner *s, bool is_object)
{
    if (s->depth >= s->max_depth)
        return fail(s, SIO_ELIMIT, "json: nesting too deep");
    unsigned i = s->depth++;
    unsigned char bit = (unsigned char)(1u << (i % 8));
    if (is_object)
        s->kinds[i / 8] |= bit;
    else
        s->kinds[i / 8] &= (unsigned char)~bit;
    return 0;
}

/* Expecting a value: scan a scalar, or open a container (handling the empty case at once).
 * *want_value tells the main loop what comes next. */
static int step_value(struct scanner *s, bool *want_value)
{
    skip_ws(s);
    if (s->pos == s->n)
        return fail(s, SIO_EPROTO, "json: unexpected end of input");
    char c = s->p[s->pos];
    if (c != '[' && c != '{') {
        *want_value = false;
        return scan_scalar(s);
    }
    int rc = push(s, c == '{');
    if (rc != 0)
        return rc;
    s->pos++;
    skip_ws(s);
    if (s->pos < s->n && s->p[s->pos] == (c == '{' ? '}' : ']')) {
        s->pos++;
        s->depth--;
        *want_value = false;
        return 0;
    }
    *want_value = true;
    return c == '{' ? scan_key(s) : 0;
}

/* After a complete value: end of input at depth 0, or ',' / a closing bracket inside one. */
static int step_after(struct scanner *s, bool *want_value)
{
    skip_ws(s);
    if (s->depth == 0)
        return s->pos == s->n ? SCAN_DONE
                              : fail(s, SIO_EPROTO, "json: trailing characters after value");
    if (s->pos == s->n)
        return fail(s, SIO_EPROTO, "json: unexpected end of input");
    bool is_object = top_is_object(s);
    char c = s->p[s->pos++];
    if (c == ',') {
        /* No trailing commas (RFC 8259 section 4/5): a member or element must follow. */
        *want_value = true;
        return is_object ? scan_key(s) : 0;
    }
    if (c == (is_object ? '}' : ']')) {
        s->depth--;
        return 0;
    }
    return fail(s, SIO_EPROTO,
                is_object ? "json: expected ',' or '}'" : "json: expected ',' or ']'");
}

/* The validator's loop. With elems, also notes the elements of a top-level array: a value that
 * starts or ends while the depth is 1 inside an array is one of them. */
static int validate(const char *p, size_t n, unsigned max_depth, const char **reason,
                    sio_json_span *elems, size_t cap, size_t *count)
{
    struct scanner s = {0};
    bool want_value = true;
    size_t k = 0, start = 0;
    int rc;

    s.p = p;
    s.n = p != NULL ? n : 0;
    s.max_depth = max_depth < SIO_JSON_DEPTH_CAP ? max_depth : SIO_JSON_DEPTH_CAP;
    do {
        if (elems != NULL && s.depth == 1 && !(s.kinds[0] & 1)) {
            if (want_value) {
                skip_ws(&s);
                start = s.pos;
            } else {
                if (k < cap) {
                    elems[k].off = start;
                    elems[k].len = s.pos - start;
                }
                k++;
            }
        }
        rc = want_value ? step_value(&s, &want_value) : step_after(&s, &want_value);
    } while (rc == 0);
    if (count != NULL)
        *count = rc == SCAN_DONE ? k : 0;
    if (rc == SCAN_DONE)
        return 0;
    if (reason != NULL)
        *reason = s.reason;
    return rc;
}

int sio_json_validate(const char *p, size_t n, unsigned max_depth, const char **reason)
{
    return validate(p, n, max_depth, reason, NULL, 0, NULL);
}

int sio_json_validate_array(const char *p, size_t n, unsigned max_depth, const char **reason,
                            sio_json_span *elems, size_t cap, size_t *count)
{
    return validate(p, n, max_depth, reason, elems, cap, count);
}

sio_json_type sio_json_type_of(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && is_ws(p[i]))
        i++;
    if (i == n)
        return SIO_JSON_INVALID;
    switch (p[i]) {
    case '{':
        return SIO_JSON_OBJECT;
    case '[':
        return SIO_JSON_ARRAY;
    case '"':
        return SIO_JSON_STRING;
    case 't':
        return SIO_JSON_TRUE;
    case 'f':
        return SIO_JSON_FALSE;
    case 'n':
        return SIO_JSON_NULL;
    default:
        return p[i] == '-' || is_digit(p[i]) ? SIO_JSON_NUMBER : SIO_JSON_INVALID;
    }
}

/* End of the string literal starting at p[pos] (a quote), bounded by n even on bad input. */
static size_t skip_string(const char *p, size_t n, size_t pos)
{
    for (pos++; pos < n; pos++) {
        if (p[pos] == '\\')
            pos++;
        else if (p[pos] == '"')
            return pos + 1;
    }
    return n;
}

static bool is_delim(char c)
{
    return is_ws(c) || c == ',' || c == ':' || c == '[' || c == ']' || c == '{' || c == '}' ||
           c == '"';
}

void sio_json_reader_init(sio_json_reader *r, const char *p, size_t n)
{
    r->p = p;
    r->n = p != NULL ? n : 0;
    r->pos = 0;
}

sio_json_token sio_json_reader_next(sio_json_reader *r, const char **tok, size_t *tok_len)
{
    const char *p = r->p;
    size_t start;

    while (r->pos < r->n && (is_ws(p[r->pos]) || p[r->pos] == ',' || p[r->pos] == ':'))
        r->pos++;
    if (r->pos == r->n)
        return SIO_JSON_TOK_END;
    start = r->pos;
    *tok = p + start;
    *tok_len = 1;
    switch (p[r->pos++]) {
    case '{':
        return SIO_JSON_TOK_BEGIN_OBJECT;
    case '}':
        return SIO_JSON_TOK_END_OBJECT;
    case '[':
        return SIO_JSON_TOK_BEGIN_ARRAY;
    case ']':
        return SIO_JSON_TOK_END_ARRAY;
    case '"': {
        r->pos = skip_string(p, r->n, start);
        *tok_len = r->pos - start;
        /* A string is a key exactly when a ':' follows it. */
        size_t i = r->pos;
        while (i < r->n && is_ws(p[i]))
            i++;
        return i < r->n && p[i] == ':' ? SIO_JSON_TOK_KEY : SIO_JSON_TOK_SCALAR;
    }
    default:
        while (r->pos < r->n && !is_delim(p[r->pos]))
            r->pos++;
        *tok_len = r->pos - start;
        return SIO_JSON_TOK_SCALAR;
    }
}

int sio_json_iter_init(sio_json_iter *it, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && is_ws(p[i]))
        i++;
    if (i == n || (p[i] != '[' && p[i] != '{'))
        return SIO_EINVAL;
    it->p = p;
    it->n = n;
    it->pos = i + 1;
    it->is_object = p[i] == '{';
    return 0;
}

int sio_json_iter_next(sio_json_iter *it, const char **key, size_t *key_len, const char **val,
                       size_t *val_len)
{
    sio_json_reader r = {it->p, it->n, it->pos};
    const char *t = NULL, *k = NULL;
    size_t tl = 0, kl = 0;
    sio_json_token kind = sio_json_reader_next(&r, &t, &tl);

    if (it->is_object && kind == SIO_JSON_TOK_KEY) {
        k = t;
        kl = tl;
        kind = sio_json_reader_next(&r, &t, &tl);
    }
    if (kind == SIO_JSON_TOK_BEGIN_ARRAY || kind == SIO_JSON_TOK_BEGIN_OBJECT) {
        /* Depth counting is enough to find the end: the input was validated. */
        size_t depth = 1;
        const char *u;
        size_t ul;
        while (depth > 0 && (kind = sio_json_reader_next(&r, &u, &ul)) != SIO_JSON_TOK_END) {
            if (kind == SIO_JSON_TOK_BEGIN_ARRAY || kind == SIO_JSON_TOK_BEGIN_OBJECT)
                depth++;
            else if (kind == SIO_JSON_TOK_END_ARRAY || kind == SIO_JSON_TOK_END_OBJECT)
                depth--;
        }
        tl = r.pos - (size_t)(t - it->p);
    } else if (kind != SIO_JSON_TOK_SCALAR) {
        return 0; /* closing bracket or end: stay put so later calls return 0 too */
    }
    it->pos = r.pos;
    if (key != NULL)
        *key = k;
    if (key_len != NULL)
        *key_len = kl;
    *val = t;
    *val_len = tl;
    return 1;
}

/* Writes code point cp (at most U+10FFFF, not a surrogate) as UTF-8; returns the byte count. */
static size_t utf8_encode(long cp, unsigned char u[4])
{
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The byte a one-character escape stands for: \b \f \n \r \t, else the character itself
 * ('"', '\\' and '/'). */
static unsigned char simple_unescape(char e)
{
    switch (e) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return (unsigned char)e;
    }
}

/* Decodes the next character of a literal body p[*pos..end) into UTF-8 bytes in u; returns
 * their count, 0 at end. Raw bytes pass through one at a time (already valid UTF-8). Bounds are
 * checked even though input is validated, so misuse cannot read outside the literal. */
static size_t lit_next(const char *p, size_t end, size_t *pos, unsigned char u[4])
{
    long cp;

    if (*pos >= end)
        return 0;
    if (p[*pos] != '\\' || end - *pos < 2) {
        u[0] = (unsigned char)p[(*pos)++];
        return 1;
    }
    char e = p[*pos + 1];
    *pos += 2;
    if (e != 'u' || end - *pos < 4 || (cp = hex4(p + *pos)) < 0) {
        u[0] = simple_unescape(e);
        return 1;
    }
    *pos += 4;
    /* RFC 8259 section 7: astral characters are escaped as a UTF-16 surrogate pair. */
    if (cp >= 0xD800 && cp <= 0xDBFF && end - *pos >= 6 && p[*pos] == '\\' && p[*pos + 1] == 'u') {
        long lo = hex4(p + *pos + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *pos += 6;
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
    return utf8_encode(cp, u);
}

static bool is_literal(const char *lit, size_t n)
{
    return lit != NULL && n >= 2 && lit[0] == '"' && lit[n - 1] == '"';
}

ssize_t sio_json_string_unescape(const char *lit, size_t n, char *out, size_t cap)
{
    size_t pos = 1, len = 0, k;
    unsigned char u[4];

    if (!is_literal(lit, n))
        return SIO_EINVAL;
    if (!memchr(lit + 1, '\\', n - 2)) { /* no escapes: the body is the text */
        if (n - 2 >= cap)
            return SIO_ELIMIT;
        memcpy(out, lit + 1, n - 2);
        out[n - 2] = '\0';
        return (ssize_t)(n - 2);
    }
    while ((k = lit_next(lit, n - 1, &pos, u)) > 0) {
        if (k >= cap - len) /* len < cap after each write: no wrap */
            return SIO_ELIMIT;
        memcpy(out + len, u, k);
        len += k;
    }
    if (len >= cap)
        return SIO_ELIMIT;
    out[len] = '\0';
    return (ssize_t)len;
}

ssize_t sio_json_nested_string(const char *p, size_t n, const char *outer, const char *name,
                               char *out, size_t cap)
{
    sio_json_iter it, in;
    const char *k, *v;
    size_t kn, vn;
    if (sio_json_iter_init(&it, p, n) < 0)
        return SIO_ENOTFOUND;
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1) {
        if (!sio_json_string_eq(k, kn, outer, strlen(outer)))
            continue;
        if (sio_json_iter_init(&in, v, vn) < 0)
            return SIO_ENOTFOUND;
        while (sio_json_iter_next(&in, &k, &kn, &v, &vn) == 1) {
            if (sio_json_string_eq(k, kn, name, strlen(name))) {
                ssize_t len = sio_json_string_unescape(v, vn, out, cap);
                return len < 0 ? SIO_ELIMIT : len;
            }
        }
        return SIO_ENOTFOUND;
    }
    return SIO_ENOTFOUND;
}

bool sio_json_string_eq(const char *lit, size_t n, const char *s, size_t slen)
{
    size_t pos = 1, off = 0, k;
    unsigned char u[4];

    if (!is_literal(lit, n))
        return false;
    while ((k = lit_next(lit, n - 1, &pos, u)) > 0) {
        if (slen - off < k || memcmp(s + off, u, k) != 0)
            return false;
        off += k;
    }
    return off == slen;
}

int sio_json_uint(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    while (n > 0 && is_ws(p[n - 1]))
        n--;
    while (n > 0 && is_ws(*p)) {
        p++;
        n--;
    }
    if (n == 0 || (p[0] == '0' && n > 1))
        return SIO_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return SIO_EPROTO;
        v = v * 10 + (uint64_t)(p[i] - '0');
        /* Checked per digit, so v never wraps: 10 * (2^53 - 1) + 9 fits in 64 bits. */
        if (v > SIO_JSON_MAX_SAFE_INT)
            return SIO_ELIMIT;
    }
    *out = v;
    return 0;
}

static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len < cap)
        memcpy(out + *len, s, cap - *len < n ? cap - *len : n);
    *len += n;
}

/* The one-byte escape for c, or 0 when c needs \u00XX or no escape. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

size_t sio_json_write_string(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t len = 0, i = 0;

    put(out, cap, &len, "\"", 1);
    while (i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        put(out, cap, &len, s + i, run - i);
        if ((i = run) == n)
            break;
        char e = short_escape(u[i]);
        size_t k = u[i] >= 0x80 ? utf8_seq_len(u + i, n - i) : 1;
        if (e != 0) {
            char esc[2] = {'\\', e};
            put(out, cap, &len, esc, 2);
        } else if (u[i] < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[u[i] >> 4], hex[u[i] & 15]};
            put(out, cap, &len, esc, 6);
        } else if (k > 0) {
            put(out, cap, &len, s + i, k);
        } else {
            put(out, cap, &len, "\\ufffd", 6);
            k = 1; /* resynchronise on the next byte */
        }
        i += k;
    }
    put(out, cap, &len, "\"", 1);
    if (cap > 0)
        out[len < cap ? len : cap - 1] = '\0';
    return len;
}
