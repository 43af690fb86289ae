/* SHA-1 of every word n-gram of a space-joined token buffer, in one C loop.
 *
 * sha1_shingles(buf, n) takes the UTF-8 bytes of " ".join(tokens) (tokens never contain a
 * space) and returns the first four bytes of SHA-1, read little-endian, of each n-gram
 * " ".join(tokens[i:i+n]) -- datasketch's sha1_hash32 of the same shingles -- as a bytes
 * object of uint32 values. A buffer of n tokens or fewer is one shingle; an empty buffer has
 * none. Every n-gram is a contiguous span of the buffer, so no shingle string is ever built.
 * The GIL is released while hashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ROL(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], t;
    for (int i = 0; i < 20; i++) {
        t = ROL(a, 5) + ((b & c) | (~b & d)) + e + 0x5A827999u + w[i];
        e = d; d = c; c = ROL(b, 30); b = a; a = t;
    }
    for (int i = 20; i < 40; i++) {
        t = ROL(a, 5) + (b ^ c ^ d) + e + 0x6ED9EBA1u + w[i];
        e = d; d = c; c = ROL(b, 30); b = a; a = t;
    }
    for (int i = 40; i < 60; i++) {
        t = ROL(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8F1BBCDCu + w[i];
        e = d; d = c; c = ROL(b, 30); b = a; a = t;
    }
    for (int i = 60; i < 80; i++) {
        t = ROL(a, 5) + (b ^ c ^ d) + e + 0xCA62C1D6u + w[i];
        e = d; d = c; c = ROL(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* First digest word of SHA-1(msg), byte-swapped so it reads as datasketch's little-endian uint32. */
static uint32_t sha1_first_word_le(const unsigned char *msg, size_t len)
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    unsigned char block[64];
    size_t off = 0;
    for (; off + 64 <= len; off += 64)
        sha1_block(h, msg + off);
    size_t rest = len - off;
    memcpy(block, msg + off, rest);
    block[rest] = 0x80;
    if (rest >= 56) {
        memset(block + rest + 1, 0, 63 - rest);
        sha1_block(h, block);
        memset(block, 0, 56);
    } else {
        memset(block + rest + 1, 0, 55 - rest);
    }
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_block(h, block);
    uint32_t x = h[0];
    return (x >> 24) | ((x >> 8) & 0xFF00u) | ((x << 8) & 0xFF0000u) | (x << 24);
}

static PyObject *sha1_shingles(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*n", &view, &n))
        return NULL;
    if (n < 1) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "n-gram size must be positive, got %zd", n);
        return NULL;
    }
    const unsigned char *buf = view.buf;
    Py_ssize_t len = view.len;
    if (len == 0) {
        PyBuffer_Release(&view);
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    Py_ssize_t words = 1;
    for (Py_ssize_t i = 0; i < len; i++)
        words += buf[i] == ' ';
    Py_ssize_t count = words <= n ? 1 : words - n + 1;
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * 4);
    Py_ssize_t *starts = PyMem_Malloc((size_t)(words + 1) * sizeof(Py_ssize_t));
    if (out == NULL || starts == NULL) {
        Py_XDECREF(out);
        PyMem_Free(starts);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    uint32_t *hv = (uint32_t *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t k = 0;
    starts[k++] = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (buf[i] == ' ')
            starts[k++] = i + 1;
    starts[words] = len + 1; /* as if one more separator followed the last token */
    if (words <= n) {
        hv[0] = sha1_first_word_le(buf, (size_t)len);
    } else {
        for (Py_ssize_t i = 0; i < count; i++)
            hv[i] = sha1_first_word_le(buf + starts[i], (size_t)(starts[i + n] - 1 - starts[i]));
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(starts);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"sha1_shingles", sha1_shingles, METH_VARARGS,
     "sha1_shingles(buf, n) -> bytes: little-endian uint32 SHA-1 prefix of each word n-gram of buf."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shingle", NULL, -1, methods};

PyMODINIT_FUNC PyInit__shingle(void) { return PyModule_Create(&module); }
