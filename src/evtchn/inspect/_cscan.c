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
    const unsigned char *d = data.buf, *p = d, *e = d + n;
    Py_ssize_t count = 0;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        count++;
        p++;
    }
    if (n > 0 && d[n - 1] != '\n')
        count++;
    PyObject *starts = PyByteArray_FromStringAndSize(NULL, count * 8);
    PyObject *ends = PyByteArray_FromStringAndSize(NULL, count * 8);
    if (starts == NULL || ends == NULL) {
        Py_XDECREF(starts);
        Py_XDECREF(ends);
        PyBuffer_Release(&data);
        return NULL;
    }
    int64_t *st = (int64_t *)PyByteArray_AS_STRING(starts), *en = (int64_t *)PyByteArray_AS_STRING(ends);
    Py_ssize_t i = 0;
    p = d;
    while (i < count) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(e - p));
        if (nl == NULL)
            nl = e;
        st[i] = p - d;
        en[i] = nl - d;
        i++;
        p = nl + 1;
    }
    PyBuffer_Release(&data);
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

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS, "split(data, n) -> (starts, ends): int64 line bounds as bytearrays."},
    {"edump_ports", edump_ports, METH_VARARGS, "The 'e' port lines' fields, every line (see the C source)."},
    {"ls_ports", ls_ports, METH_VARARGS, "The lsevtchn lines' fields among candidate lines."},
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
