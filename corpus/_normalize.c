/* One pass over UTF-8 text that deletes or replaces characters by a fixed table: CCNet's normalisation
 * after lowercasing (corpus/normalize.py builds the tables once per flavour).
 *
 * edit(data, ascii, bitmap, codepoints, offsets, replacements) -> bytes
 *   data:         valid UTF-8 (Python's encode with surrogatepass)
 *   ascii:        128 bytes; byte b < 0x80 becomes ascii[b], or is deleted where ascii[b] == 0xFF
 *   bitmap:       0x110000 / 8 bytes; bit c set when code point c >= 0x80 is in the table
 *   codepoints:   sorted uint32 code points of the table
 *   offsets:      uint32, one more than codepoints: codepoints[i] becomes replacements[offsets[i]:offsets[i+1]]
 *   replacements: the replacement bytes, concatenated (an empty span deletes)
 * Every other character is copied unchanged. The GIL is released while editing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CODE_POINTS 0x110000

static Py_ssize_t find_code_point(const uint32_t *cps, Py_ssize_t n, uint32_t c)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (cps[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && cps[lo] == c ? lo : -1;
}

static PyObject *edit(PyObject *self, PyObject *args)
{
    Py_buffer data, ascii, bitmap, cps, offs, reps;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*", &data, &ascii, &bitmap, &cps, &offs, &reps))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t n = cps.len / 4;
    if (ascii.len != 128 || bitmap.len != CODE_POINTS / 8 || cps.len % 4 || offs.len != 4 * (n + 1)) {
        PyErr_SetString(PyExc_ValueError, "edit: malformed table (ascii 128 bytes, bitmap 0x110000 bits, "
                                          "offsets one more than code points)");
        goto done;
    }
    const unsigned char *src = data.buf, *amap = ascii.buf, *bits = bitmap.buf, *rep = reps.buf;
    const uint32_t *cp = cps.buf, *off = offs.buf;
    uint32_t longest = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (off[i + 1] < off[i] || off[i + 1] > (uint64_t)reps.len) {
            PyErr_SetString(PyExc_ValueError, "edit: replacement offsets out of order or out of range");
            goto done;
        }
        if (off[i + 1] - off[i] > longest)
            longest = off[i + 1] - off[i];
    }
    /* A replaced character is at least two bytes long, so the output is at most this long. */
    Py_ssize_t len = data.len, cap = len + (longest > 2 ? (len / 2 + 1) * (longest - 2) : 0);
    out = PyBytes_FromStringAndSize(NULL, cap);
    if (out == NULL)
        goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t w = 0, bad = -1;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t i = 0;
    while (i < len) {
        unsigned char b = src[i];
        if (b < 0x80) {
            unsigned char m = amap[b];
            if (m != 0xFF)
                dst[w++] = m;
            i++;
            continue;
        }
        Py_ssize_t k = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
        if (k == 0 || i + k > len) {
            bad = i;
            break;
        }
        uint32_t c = k == 2 ? (uint32_t)(b & 0x1F) : k == 3 ? (uint32_t)(b & 0x0F) : (uint32_t)(b & 0x07);
        for (Py_ssize_t j = 1; j < k; j++)
            c = (c << 6) | (src[i + j] & 0x3F);
        Py_ssize_t at = c < CODE_POINTS && (bits[c >> 3] >> (c & 7)) & 1 ? find_code_point(cp, n, c) : -1;
        if (at < 0) {
            memcpy(dst + w, src + i, (size_t)k);
            w += k;
        } else {
            memcpy(dst + w, rep + off[at], off[at + 1] - off[at]);
            w += off[at + 1] - off[at];
        }
        i += k;
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        Py_CLEAR(out);
        PyErr_Format(PyExc_ValueError, "edit: invalid UTF-8 at byte %zd", bad);
        goto done;
    }
    _PyBytes_Resize(&out, w);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&ascii);
    PyBuffer_Release(&bitmap);
    PyBuffer_Release(&cps);
    PyBuffer_Release(&offs);
    PyBuffer_Release(&reps);
    return out;
}

static PyMethodDef methods[] = {
    {"edit", edit, METH_VARARGS,
     "edit(data, ascii, bitmap, codepoints, offsets, replacements) -> bytes: UTF-8 data with each character "
     "in the table replaced (or deleted), in one pass."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_normalize", NULL, -1, methods};

PyMODINIT_FUNC PyInit__normalize(void) { return PyModule_Create(&module); }
