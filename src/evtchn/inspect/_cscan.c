/* One pass in C over a capture's bytes: split it into lines and read the common shapes of 'e' dump
 * port lines (reference §9.2) and lsevtchn lines (reference §9.1).
 *
 * The same contract as the numpy scanners in readers/edump_scan.py and readers/lsevtchn.py, which
 * stay as the fallback (evtchn/inspect/cscan.py chooses): a line is accepted ("ok") only in a shape
 * the per-line parser reads the same way, with every number of at most 9 digits (so no value can be
 * past 32 bits and no Python int conversion limit applies); every other line is left to the per-line
 * parser (readers/edump.py, readers/lsevtchn.py), which accepts a superset. Outputs are written into
 * caller-allocated buffers (numpy arrays): int64 columns, one byte per flag.
 *
 * Grammar of an 'e' port line after "(XEN) " and a console timestamp "[...] " (the first "]" followed
 * by a space), as readers/edump.py's _E_PORT, _E_REST_NEW and _E_REST_OLD:
 *     "    " " "* PORT " [" [01] "/" [01] ("/" ABI)? "]: s=" S " n=" N REST
 *     REST (4.2+)  " x=" X SUFFIX(S) (" Z=" visible-char anything)?
 *     REST (4.1, no ABI field)  SUFFIX(S) " x=" X
 *     SUFFIX: 2 " d=D"; 3 " d=D p=P"; 4 " p=P" (" i=I", 4.2+ only)?; 5 " v=V"; 6 nothing
 * A line's CR before its newline is not part of it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DIGITS 9

typedef struct {
    const unsigned char *p; /* the current byte */
    const unsigned char *e; /* the line's end (CR excluded) */
} Cursor;

/* An unsigned decimal of 1..MAX_DIGITS ASCII digits: its value, or -1 (and the cursor unchanged). */
static int64_t read_num(Cursor *c)
{
    const unsigned char *p = c->p;
    int64_t v = 0;
    int n = 0;
    while (p < c->e && *p >= '0' && *p <= '9') {
        if (++n > MAX_DIGITS)
            return -1;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (n == 0)
        return -1;
    c->p = p;
    return v;
}

/* The literal `lit` (len bytes) at the cursor: advance past it and return 1, else 0. */
static int eat(Cursor *c, const char *lit, size_t len)
{
    if ((size_t)(c->e - c->p) < len || memcmp(c->p, lit, len) != 0)
        return 0;
    c->p += len;
    return 1;
}

#define EAT(c, s) eat((c), (s), sizeof(s) - 1)

/* " K=" and a number: its value, or -1 with the cursor unchanged. */
static int64_t key_num(Cursor *c, char key)
{
    const unsigned char *save = c->p;
    if (c->e - c->p < 4 || c->p[0] != ' ' || c->p[1] != (unsigned char)key || c->p[2] != '=')
        return -1;
    c->p += 3;
    int64_t v = read_num(c);
    if (v < 0)
        c->p = save;
    return v;
}

/* Where a line's text starts after an optional "(XEN) " and, behind it, an optional timestamp
 * "[...] " whose first "]" (before the line's end) is followed by a space (swar.body_start). */
static const unsigned char *body_start(const unsigned char *s, const unsigned char *e)
{
    if (e - s < 6 || memcmp(s, "(XEN) ", 6) != 0)
        return s;
    s += 6;
    if (s < e && *s == '[') {
        const unsigned char *close = memchr(s + 1, ']', (size_t)(e - s - 1));
        if (close != NULL && close + 1 < e && close[1] == ' ')
            return close + 2;
    }
    return s;
}

typedef struct {
    int64_t port, kind, vcpu, rdom, rport, num, xen, abi;
    int x_first;
} ERow;

/* The suffix of state s (2..6) at the cursor, `with_i`: pirq lines may carry " i=I" (4.2+). */
static int suffix(Cursor *c, int s, int with_i, ERow *r)
{
    switch (s) {
    case 2:
        return (r->rdom = key_num(c, 'd')) >= 0;
    case 3:
        return (r->rdom = key_num(c, 'd')) >= 0 && (r->rport = key_num(c, 'p')) >= 0;
    case 4:
        if ((r->num = key_num(c, 'p')) < 0)
            return 0;
        if (with_i)
            (void)key_num(c, 'i'); /* optional; a bad one is left for the end check to refuse */
        return 1;
    case 5:
        return (r->num = key_num(c, 'v')) >= 0;
    default:
        return 1;
    }
}

/* One 'e' port line's body [b, e): 1 and the row when it is in a common shape, else 0. */
static int edump_line(const unsigned char *b, const unsigned char *e, ERow *r)
{
    Cursor c = {b, e};
    if (!EAT(&c, "    "))
        return 0;
    while (c.p < c.e && *c.p == ' ')
        c.p++;
    if ((r->port = read_num(&c)) < 0)
        return 0;
    if (c.e - c.p < 6 || c.p[0] != ' ' || c.p[1] != '[' || (c.p[2] | 1) != '1' || c.p[3] != '/'
        || (c.p[4] | 1) != '1')
        return 0;
    c.p += 5;
    r->abi = -1;
    if (*c.p == '/') {
        const unsigned char *a = ++c.p;
        /* The ABI field: anything but "]" in the per-line grammar; plain ASCII here, so that its
         * width in bytes is its width in characters. */
        while (c.p < c.e && *c.p != ']' && *c.p >= 0x20 && *c.p < 0x7F)
            c.p++;
        r->abi = c.p - a;
    }
    if (!EAT(&c, "]: s=") || c.p >= c.e)
        return 0;
    int s = *c.p - '0';
    if (s < 2 || s > 6)
        return 0;
    c.p++;
    if (c.p < c.e && *c.p >= '0' && *c.p <= '9')
        return 0; /* s=20 and the like: the per-line parser names the unknown state */
    r->kind = s - 1;
    if (!EAT(&c, " n=") || (r->vcpu = read_num(&c)) < 0)
        return 0;
    r->rdom = r->rport = r->num = -1;
    const unsigned char *rest = c.p;
    /* 4.2+: " x=X", the suffix, then an optional XSM label " Z=" + a visible character + anything. */
    if ((r->xen = key_num(&c, 'x')) >= 0 && suffix(&c, s, 1, r)) {
        if (c.p == c.e || (c.e - c.p >= 4 && c.p[0] == ' ' && c.p[1] == 'Z' && c.p[2] == '='
                           && c.p[3] >= 0x21 && c.p[3] < 0x7F)) {
            r->x_first = 1;
            return 1;
        }
    }
    if (r->abi >= 0)
        return 0;
    /* 4.1: the suffix, then " x=X" last. */
    c.p = rest;
    r->rdom = r->rport = r->num = -1;
    if (!suffix(&c, s, 0, r) || (r->xen = key_num(&c, 'x')) < 0 || c.p != c.e)
        return 0;
    r->x_first = 0;
    return 1;
}

/* The line ends (CR excluded) of line i. */
static inline const unsigned char *line_end(const unsigned char *data, int64_t start, int64_t end)
{
    if (end > start && data[end - 1] == '\r')
        end--;
    return data + end;
}

static int get_buffers(Py_buffer *views, PyObject **objs, int n, Py_ssize_t rows, int writable)
{
    for (int k = 0; k < n; k++) {
        if (PyObject_GetBuffer(objs[k], &views[k], writable ? PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS
                                                             : PyBUF_C_CONTIGUOUS) < 0) {
            for (int j = 0; j < k; j++)
                PyBuffer_Release(&views[j]);
            return -1;
        }
    }
    (void)rows;
    return 0;
}

static void release(Py_buffer *views, int n)
{
    for (int k = 0; k < n; k++)
        PyBuffer_Release(&views[k]);
}

/* The line ends of d[0, n) (each newline, then n for a last line without one) into *ends, grown as
 * needed: one pass over the bytes, sixteen at a time (SSE2, which every x86-64 has), else memchr.
 * Returns how many, or -1 (with an exception set) when memory runs out. */
static Py_ssize_t line_ends(const unsigned char *d, Py_ssize_t n, PyObject *ends)
{
    Py_ssize_t count = 0, cap = PyByteArray_GET_SIZE(ends) / 8, i = 0;
    int64_t *out = (int64_t *)PyByteArray_AS_STRING(ends);
#define ROOM(k)                                                                                         \
    if (count + (k) > cap) {                                                                            \
        cap = cap + cap / 2 + (k) + 1024;                                                               \
        if (PyByteArray_Resize(ends, cap * 8) < 0)                                                      \
            return -1;                                                                                  \
        out = (int64_t *)PyByteArray_AS_STRING(ends);                                                   \
    }
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n');
    for (; i + 16 <= n; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(d + i)), nl));
        if (!m)
            continue;
        ROOM(16);
        do {
            out[count++] = i + __builtin_ctz(m);
            m &= m - 1;
        } while (m);
    }
#endif
    for (; i < n; i++) {
        const unsigned char *p = memchr(d + i, '\n', (size_t)(n - i));
        if (p == NULL)
            break;
        i = p - d;
        ROOM(1);
        out[count++] = i;
    }
    if (n > 0 && d[n - 1] != '\n') {
        ROOM(1);
        out[count++] = n;
    }
#undef ROOM
    if (PyByteArray_Resize(ends, count * 8) < 0)
        return -1;
    return count;
}

/* split(data, n) -> (starts, ends) as bytearrays of int64: each line's first byte and its newline
 * (or n for a last line without one). */
static PyObject *split(PyObject *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &data, &n))
        return NULL;
    if (n < 0 || n > data.len) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "split: length out of range");
        return NULL;
    }
    /* a first guess of one line per 48 bytes; line_ends grows it */
    PyObject *ends = PyByteArray_FromStringAndSize(NULL, (n / 48 + 16) * 8);
    Py_ssize_t count = ends == NULL ? -1 : line_ends(data.buf, n, ends);
    PyBuffer_Release(&data);
    PyObject *starts = count < 0 ? NULL : PyByteArray_FromStringAndSize(NULL, count * 8);
    if (starts == NULL) {
        Py_XDECREF(ends);
        return NULL;
    }
    int64_t *st = (int64_t *)PyByteArray_AS_STRING(starts), *en = (int64_t *)PyByteArray_AS_STRING(ends);
    if (count > 0)
        st[0] = 0;
    for (Py_ssize_t i = 1; i < count; i++)
        st[i] = en[i - 1] + 1;
    return Py_BuildValue("(NN)", starts, ends);
}

/* edump_ports(data, starts, ends, ok, x_first, port, kind, vcpu, rdom, rport, num, xen, abi, body):
 * every line's 'e' port fields; ok and x_first one byte per line, the rest int64 (body: where the
 * text starts after "(XEN) [ts] ", for every line). Returns the number of lines accepted. */
static PyObject *edump_ports(PyObject *self, PyObject *args)
{
    enum { N_IN = 3, N_OUT = 11 };
    PyObject *objs[N_IN + N_OUT];
    Py_buffer v[N_IN + N_OUT];
    (void)self;
    if (!PyArg_UnpackTuple(args, "edump_ports", N_IN + N_OUT, N_IN + N_OUT, &objs[0], &objs[1], &objs[2],
                           &objs[3], &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &objs[9],
                           &objs[10], &objs[11], &objs[12], &objs[13]))
        return NULL;
    if (get_buffers(v, objs, N_IN, 0, 0) < 0)
        return NULL;
    if (get_buffers(v + N_IN, objs + N_IN, N_OUT, 0, 1) < 0) {
        release(v, N_IN);
        return NULL;
    }
    Py_ssize_t n = v[1].len / 8;
    int bad = v[2].len != n * 8 || v[3].len < n || v[4].len < n;
    for (int k = 5; k < N_IN + N_OUT; k++)
        bad |= v[k].len < n * 8;
    const unsigned char *d = v[0].buf;
    const int64_t *st = v[1].buf, *en = v[2].buf;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad |= st[i] < 0 || en[i] < st[i] || en[i] > v[0].len;
    if (bad) {
        release(v, N_IN + N_OUT);
        PyErr_SetString(PyExc_ValueError, "edump_ports: buffers of the wrong size or lines out of range");
        return NULL;
    }
    char *ok = v[3].buf, *xf = v[4].buf;
    int64_t *port = v[5].buf, *kind = v[6].buf, *vcpu = v[7].buf, *rdom = v[8].buf, *rport = v[9].buf;
    int64_t *num = v[10].buf, *xen = v[11].buf, *abi = v[12].buf, *body = v[13].buf;
    Py_ssize_t taken = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *e = line_end(d, st[i], en[i]);
        const unsigned char *b = body_start(d + st[i], e);
        ERow r;
        body[i] = b - d;
        int good = edump_line(b, e, &r);
        ok[i] = (char)good;
        if (!good) {
            xf[i] = 0;
            port[i] = kind[i] = vcpu[i] = rdom[i] = rport[i] = num[i] = xen[i] = abi[i] = -1;
            continue;
        }
        taken++;
        xf[i] = (char)r.x_first;
        port[i] = r.port;
        kind[i] = r.kind;
        vcpu[i] = r.vcpu;
        rdom[i] = r.rdom;
        rport[i] = r.rport;
        num[i] = r.num;
        xen[i] = r.xen;
        abi[i] = r.abi;
    }
    release(v, N_IN + N_OUT);
    return PyLong_FromSsize_t(taken);
}

/* One lsevtchn line [b, e): "%4d: VCPU %u: " and a body (readers/lsevtchn.py's _LS_LINE, _LS_BODY). */
static int ls_line(const unsigned char *b, const unsigned char *e, int64_t *f)
{
    Cursor c = {b, e};
    while (c.p < c.e && *c.p == ' ')
        c.p++;
    if ((f[0] = read_num(&c)) < 0 || !EAT(&c, ": VCPU ") || (f[2] = read_num(&c)) < 0 || !EAT(&c, ": "))
        return 0;
    f[3] = f[4] = f[5] = -1;
    size_t len = (size_t)(c.e - c.p);
    if (EAT(&c, "Interdomain (Connected) - Remote Domain ")) {
        f[1] = 2;
        if ((f[3] = read_num(&c)) < 0 || !EAT(&c, ", Port ") || (f[4] = read_num(&c)) < 0)
            return 0;
    } else if (EAT(&c, "Interdomain (Waiting connection) - Remote Domain ")) {
        f[1] = 1;
        if ((f[3] = read_num(&c)) < 0)
            return 0;
    } else if (EAT(&c, "Virtual IRQ ")) {
        f[1] = 4;
        if ((f[5] = read_num(&c)) < 0)
            return 0;
    } else if (EAT(&c, "Physical IRQ ")) {
        f[1] = 3;
        if ((f[5] = read_num(&c)) < 0)
            return 0;
    } else if (len == 3 && EAT(&c, "IPI")) {
        f[1] = 5;
    } else if (len == 7 && EAT(&c, "Unknown")) {
        f[1] = 6;
    } else {
        return 0;
    }
    return c.p == c.e;
}

/* ls_ports(data, starts, ends, cand, ok, port, kind, vcpu, rdom, rport, num): the lsevtchn fields of
 * the lines `cand` (int64 line indices), one entry per candidate. Returns the number accepted. */
static PyObject *ls_ports(PyObject *self, PyObject *args)
{
    enum { N_IN = 4, N_OUT = 7 };
    PyObject *objs[N_IN + N_OUT];
    Py_buffer v[N_IN + N_OUT];
    (void)self;
    if (!PyArg_UnpackTuple(args, "ls_ports", N_IN + N_OUT, N_IN + N_OUT, &objs[0], &objs[1], &objs[2],
                           &objs[3], &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &objs[9],
                           &objs[10]))
        return NULL;
    if (get_buffers(v, objs, N_IN, 0, 0) < 0)
        return NULL;
    if (get_buffers(v + N_IN, objs + N_IN, N_OUT, 0, 1) < 0) {
        release(v, N_IN);
        return NULL;
    }
    Py_ssize_t lines = v[1].len / 8, n = v[3].len / 8;
    int bad = v[2].len != lines * 8 || v[4].len < n;
    for (int k = 5; k < N_IN + N_OUT; k++)
        bad |= v[k].len < n * 8;
    const unsigned char *d = v[0].buf;
    const int64_t *st = v[1].buf, *en = v[2].buf, *cand = v[3].buf;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        int64_t j = cand[i];
        bad |= j < 0 || j >= lines || st[j] < 0 || en[j] < st[j] || en[j] > v[0].len;
    }
    if (bad) {
        release(v, N_IN + N_OUT);
        PyErr_SetString(PyExc_ValueError, "ls_ports: buffers of the wrong size or lines out of range");
        return NULL;
    }
    char *ok = v[4].buf;
    int64_t *cols[6] = {v[5].buf, v[6].buf, v[7].buf, v[8].buf, v[9].buf, v[10].buf};
    Py_ssize_t taken = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t j = cand[i];
        int64_t f[6];
        int good = ls_line(d + st[j], line_end(d, st[j], en[j]), f);
        ok[i] = (char)good;
        taken += good;
        for (int k = 0; k < 6; k++)
            cols[k][i] = good ? f[k] : -1;
    }
    release(v, N_IN + N_OUT);
    return PyLong_FromSsize_t(taken);
}


/* ---------------------------------------------------------------- quiet lines (quiet.py) */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A line at s opens with the kernel's printk timestamp "[%5lu.%06lu]", the seconds 5 to 8 characters
 * wide (spaces, then at least one digit), the "]" before the raw end e (quiet.kernel_stamped). */
static int kernel_stamped(const unsigned char *s, const unsigned char *e)
{
    for (int k = 5; k <= 8; k++) {
        if (s + k + 9 > e)
            return 0;
        int i = 1;
        while (i <= k && s[i] == ' ')
            i++;
        int j = i;
        while (j <= k && is_digit(s[j]))
            j++;
        if (j <= k || i > k)
            continue; /* not spaces-then-digits over the k characters */
        if (s[k + 1] != '.' || s[k + 8] != ']')
            continue;
        int six = 1;
        for (int d = k + 2; d < k + 8; d++)
            six &= is_digit(s[d]);
        if (six)
            return 1;
    }
    return 0;
}

static const unsigned char NOT_FIRST[] = " '0123456789\r";
static const unsigned char NOT_SECOND[] = " 0123456789C\r\n";

/* A candidate quiet line [s, e) (e: its raw end, the newline) whose text starts at b: before the
 * word search (quiet.quiet_lines). */
static int quiet_shape(const unsigned char *s, const unsigned char *e, const unsigned char *b)
{
    if (e - s >= 6 && memcmp(s, "(XEN) ", 6) == 0 && b < e) {
        unsigned char first = b[0];
        /* not a quote or digit, nor a space before a space, digit or 'C' (a NUL is neither) */
        int ok = first == ' ' ? memchr(NOT_SECOND, b[1], sizeof(NOT_SECOND) - 1) == NULL
                              : memchr(NOT_FIRST, first, sizeof(NOT_FIRST) - 1) == NULL;
        ok = ok && memcmp(b, "Event ch", 8) != 0 && memcmp(b, "Polling ", 8) != 0
             && !(memcmp(b, "Domain ", 7) == 0 && is_digit(b[7]));
        if (ok)
            return 1;
    }
    if (e - s > 1 && s[0] == '[' && (s[1] == ' ' || is_digit(s[1])))
        return kernel_stamped(s, e);
    return 0;
}

/* quiet(data, starts, ends, idx, words, out): for each line index in idx, 1 when it is a quiet line:
 * a console or kernel log line in a shape no reader wants, holding none of `words` (a tuple of bytes,
 * each at least 2 long). The data must have the zero padding split_lines gives it (8 bytes read past
 * a line's text). Returns the number of quiet lines. */
static PyObject *quiet(PyObject *self, PyObject *args)
{
    enum { N_IN = 4, N_OUT = 1 };
    PyObject *objs[N_IN + N_OUT], *words;
    Py_buffer v[N_IN + N_OUT];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO!O", &objs[0], &objs[1], &objs[2], &objs[3], &PyTuple_Type, &words,
                          &objs[4]))
        return NULL;
    Py_ssize_t nw = PyTuple_GET_SIZE(words);
    if (nw > 16) {
        PyErr_SetString(PyExc_ValueError, "quiet: at most 16 words");
        return NULL;
    }
    const char *wp[16];
    Py_ssize_t wl[16];
    static uint16_t pair[1 << 16];
    memset(pair, 0, sizeof(pair));
    for (Py_ssize_t k = 0; k < nw; k++) {
        PyObject *w = PyTuple_GET_ITEM(words, k);
        if (!PyBytes_Check(w) || PyBytes_GET_SIZE(w) < 2) {
            PyErr_SetString(PyExc_ValueError, "quiet: words must be bytes of at least 2");
            return NULL;
        }
        wp[k] = PyBytes_AS_STRING(w);
        wl[k] = PyBytes_GET_SIZE(w);
        pair[(unsigned char)wp[k][0] | (unsigned char)wp[k][1] << 8] |= (uint16_t)(1u << k);
    }
    if (get_buffers(v, objs, N_IN, 0, 0) < 0)
        return NULL;
    if (get_buffers(v + N_IN, objs + N_IN, N_OUT, 0, 1) < 0) {
        release(v, N_IN);
        return NULL;
    }
    Py_ssize_t lines = v[1].len / 8, n = v[3].len / 8;
    int bad = v[2].len != lines * 8 || v[4].len < n;
    const unsigned char *d = v[0].buf;
    const int64_t *st = v[1].buf, *en = v[2].buf, *idx = v[3].buf;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        int64_t j = idx[i];
        bad |= j < 0 || j >= lines || st[j] < 0 || en[j] < st[j] || en[j] + 9 > v[0].len;
    }
    if (bad) {
        release(v, N_IN + N_OUT);
        PyErr_SetString(PyExc_ValueError, "quiet: buffers of the wrong size, lines out of range or unpadded");
        return NULL;
    }
    char *out = v[4].buf;
    Py_ssize_t taken = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t j = idx[i];
        const unsigned char *s = d + st[j], *e = d + en[j];
        int q = quiet_shape(s, e, body_start(s, line_end(d, st[j], en[j])));
        for (const unsigned char *p = s; q && p + 1 < e; p++) {
            uint16_t m = pair[p[0] | p[1] << 8];
            while (m) {
                int k = __builtin_ctz(m);
                m &= (uint16_t)(m - 1);
                if (e - p >= wl[k] && memcmp(p, wp[k], (size_t)wl[k]) == 0) {
                    q = 0;
                    break;
                }
            }
        }
        out[i] = (char)q;
        taken += q;
    }
    release(v, N_IN + N_OUT);
    return PyLong_FromSsize_t(taken);
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS, "split(data, n) -> (starts, ends): int64 line bounds as bytearrays."},
    {"edump_ports", edump_ports, METH_VARARGS, "The 'e' port lines' fields, every line (see the C source)."},
    {"ls_ports", ls_ports, METH_VARARGS, "The lsevtchn lines' fields among candidate lines."},
    {"quiet", quiet, METH_VARARGS, "Which of the lines idx are quiet console or log lines (quiet.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cscan", "Compiled line scanner for evtchn.inspect (see cscan.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cscan(void)
{
    return PyModule_Create(&module);
}
