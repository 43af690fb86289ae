/* SHA-1 prefixes of word n-grams (MinHash shingles) and of lines (CCNet line dedup), in C loops.
 *
 * sha1_shingles(buf, n) takes the UTF-8 bytes of " ".join(tokens) (tokens never contain a
 * space) and returns the first four bytes of SHA-1, read little-endian, of each n-gram
 * " ".join(tokens[i:i+n]) -- datasketch's sha1_hash32 of the same shingles -- as a bytes
 * object of uint32 values. A buffer of n tokens or fewer is one shingle; an empty buffer has
 * none. Every n-gram is a contiguous span of the buffer, so no shingle string is ever built.
 * The GIL is released while hashing.
 *
 * sha1_lines(buf) takes newline-joined lines and returns the first eight bytes of SHA-1 of each
 * line (cc_net's 64-bit line hash, read little-endian) as a bytes object of uint64 values: one per
 * line, so a buffer with k newlines gives k + 1 hashes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_BUILD 1
#endif

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

typedef void (*blocks_fn)(uint32_t h[5], const unsigned char *p, size_t blocks);

static void sha1_blocks_scalar(uint32_t h[5], const unsigned char *p, size_t blocks)
{
    for (size_t i = 0; i < blocks; i++)
        sha1_block(h, p + 64 * i);
}

#ifdef HAVE_SHA_NI_BUILD
/* Four rounds with the x86 SHA extensions: w is this group's schedule, prev the ABCD before the last group. */
#define NI_GROUP(f, w)                               \
    do {                                             \
        e = _mm_sha1nexte_epu32(prev, (w));          \
        prev = abcd;                                 \
        abcd = _mm_sha1rnds4_epu32(abcd, e, (f));    \
    } while (0)

/* Next four schedule words from the previous sixteen (a oldest, d newest), as the SHA-1 recurrence defines them. */
#define NI_SCHEDULE(a, b, c, d) _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32((a), (b)), (c)), (d))

/* The same compression as sha1_block, with the SHA-NI instructions (checked at import by CPUID). */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha1_blocks_ni(uint32_t h[5], const unsigned char *p, size_t blocks)
{
    const __m128i reverse = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (size_t blk = 0; blk < blocks; blk++, p += 64) {
        __m128i abcd_in = abcd, e_in = e0, e, prev;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), reverse);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), reverse);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), reverse);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), reverse);
        e = _mm_add_epi32(e0, w0);
        prev = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
        NI_GROUP(0, w1);
        NI_GROUP(0, w2);
        NI_GROUP(0, w3);
        w0 = NI_SCHEDULE(w0, w1, w2, w3); NI_GROUP(0, w0);
        w1 = NI_SCHEDULE(w1, w2, w3, w0); NI_GROUP(1, w1);
        w2 = NI_SCHEDULE(w2, w3, w0, w1); NI_GROUP(1, w2);
        w3 = NI_SCHEDULE(w3, w0, w1, w2); NI_GROUP(1, w3);
        w0 = NI_SCHEDULE(w0, w1, w2, w3); NI_GROUP(1, w0);
        w1 = NI_SCHEDULE(w1, w2, w3, w0); NI_GROUP(1, w1);
        w2 = NI_SCHEDULE(w2, w3, w0, w1); NI_GROUP(2, w2);
        w3 = NI_SCHEDULE(w3, w0, w1, w2); NI_GROUP(2, w3);
        w0 = NI_SCHEDULE(w0, w1, w2, w3); NI_GROUP(2, w0);
        w1 = NI_SCHEDULE(w1, w2, w3, w0); NI_GROUP(2, w1);
        w2 = NI_SCHEDULE(w2, w3, w0, w1); NI_GROUP(2, w2);
        w3 = NI_SCHEDULE(w3, w0, w1, w2); NI_GROUP(3, w3);
        w0 = NI_SCHEDULE(w0, w1, w2, w3); NI_GROUP(3, w0);
        w1 = NI_SCHEDULE(w1, w2, w3, w0); NI_GROUP(3, w1);
        w2 = NI_SCHEDULE(w2, w3, w0, w1); NI_GROUP(3, w2);
        w3 = NI_SCHEDULE(w3, w0, w1, w2); NI_GROUP(3, w3);
        e0 = _mm_sha1nexte_epu32(prev, e_in);
        abcd = _mm_add_epi32(abcd, abcd_in);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static int cpu_has_sha_ni(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return 0; /* SSSE3 and SSE4.1 */
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* SHA */
}
#endif

static blocks_fn best_blocks = sha1_blocks_scalar;

/* SHA-1 state after hashing msg (padding included): h[0..4] are the digest's big-endian words. */
static void sha1_digest(uint32_t h[5], const unsigned char *msg, size_t len, blocks_fn blocks)
{
    h[0] = 0x67452301u; h[1] = 0xEFCDAB89u; h[2] = 0x98BADCFEu; h[3] = 0x10325476u; h[4] = 0xC3D2E1F0u;
    unsigned char block[128];
    size_t full = len / 64, rest = len % 64;
    blocks(h, msg, full);
    memcpy(block, msg + 64 * full, rest);
    block[rest] = 0x80;
    size_t tail = rest >= 56 ? 128 : 64;
    memset(block + rest + 1, 0, tail - rest - 1);
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        block[tail - 8 + i] = (unsigned char)(bits >> (56 - 8 * i));
    blocks(h, block, tail / 64);
}

static uint32_t bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xFF00u) | ((x << 8) & 0xFF0000u) | (x << 24);
}

/* First digest word of SHA-1(msg), byte-swapped so it reads as datasketch's little-endian uint32. */
static uint32_t sha1_first_word_le(const unsigned char *msg, size_t len)
{
    uint32_t h[5];
    sha1_digest(h, msg, len, best_blocks);
    return bswap32(h[0]);
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

static PyObject *sha1_lines(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int accelerated = 1;
    if (!PyArg_ParseTuple(args, "y*|p", &view, &accelerated))
        return NULL;
    blocks_fn blocks = accelerated ? best_blocks : sha1_blocks_scalar;
    const unsigned char *buf = view.buf;
    Py_ssize_t len = view.len;
    Py_ssize_t count = 1;
    for (Py_ssize_t i = 0; i < len; i++)
        count += buf[i] == '\n';
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * 8);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    unsigned char *hv = (unsigned char *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t start = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *nl = memchr(buf + start, '\n', (size_t)(len - start));
        Py_ssize_t stop = nl == NULL ? len : nl - buf;
        uint32_t h[5];
        sha1_digest(h, buf + start, (size_t)(stop - start), blocks);
        for (int j = 0; j < 4; j++) { /* digest bytes 0..7: the big-endian words h[0], h[1] */
            hv[8 * k + j] = (unsigned char)(h[0] >> (24 - 8 * j));
            hv[8 * k + 4 + j] = (unsigned char)(h[1] >> (24 - 8 * j));
        }
        start = stop + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return out;
}

/* Values two sorted arrays of unique uint32 share: a merge, or (one array 16x the other or more) a
   galloping search of the smaller one's values in the larger. */
static int64_t shared_count(const uint32_t *a, Py_ssize_t na, const uint32_t *b, Py_ssize_t nb)
{
    if (na > nb) {
        const uint32_t *t = a; a = b; b = t;
        Py_ssize_t tn = na; na = nb; nb = tn;
    }
    int64_t shared = 0;
    Py_ssize_t i = 0, j = 0;
    if (nb / 16 >= na) {
        for (i = 0; i < na && j < nb; i++) {
            Py_ssize_t step = 1, lo = j, hi = j;
            while (hi < nb && b[hi] < a[i]) { /* gallop: b[lo] < a[i] <= b[hi] or hi == nb */
                lo = hi + 1;
                hi += step;
                step *= 2;
            }
            if (hi > nb) hi = nb;
            while (lo < hi) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (b[mid] < a[i]) lo = mid + 1; else hi = mid;
            }
            j = lo;
            if (j < nb && b[j] == a[i]) { shared++; j++; }
        }
        return shared;
    }
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        shared += x == y;
        i += x <= y;
        j += y <= x;
    }
    return shared;
}

static PyObject *intersections(PyObject *self, PyObject *args)
{
    Py_buffer flat, offsets, pairs;
    if (!PyArg_ParseTuple(args, "y*y*y*", &flat, &offsets, &pairs))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t n_values = flat.len / 4, n_sets = offsets.len / 8 - 1, n_pairs = pairs.len / 16;
    const uint32_t *values = flat.buf;
    const int64_t *off = offsets.buf, *pr = pairs.buf;
    if (flat.len % 4 || offsets.len % 8 || pairs.len % 16 || n_sets < 0) {
        PyErr_SetString(PyExc_ValueError, "intersections: buffers of uint32 values, int64 offsets (sets + 1) "
                                          "and int64 index pairs expected");
        goto done;
    }
    for (Py_ssize_t s = 0; s < n_sets; s++) {
        if (off[s] < 0 || off[s] > off[s + 1] || off[s + 1] > n_values) {
            PyErr_Format(PyExc_ValueError, "intersections: offsets of set %zd outside the %zd values", s, n_values);
            goto done;
        }
    }
    for (Py_ssize_t k = 0; k < 2 * n_pairs; k++) {
        if (pr[k] < 0 || pr[k] >= n_sets) {
            PyErr_Format(PyExc_ValueError, "intersections: pair index %lld outside the %zd sets",
                         (long long)pr[k], n_sets);
            goto done;
        }
    }
    out = PyBytes_FromStringAndSize(NULL, n_pairs * 8);
    if (out == NULL)
        goto done;
    int64_t *counts = (int64_t *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n_pairs; k++) {
        int64_t a = pr[2 * k], b = pr[2 * k + 1];
        counts[k] = shared_count(values + off[a], (Py_ssize_t)(off[a + 1] - off[a]),
                                 values + off[b], (Py_ssize_t)(off[b + 1] - off[b]));
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&flat);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&pairs);
    return out;
}

static PyMethodDef methods[] = {
    {"sha1_shingles", sha1_shingles, METH_VARARGS,
     "sha1_shingles(buf, n) -> bytes: little-endian uint32 SHA-1 prefix of each word n-gram of buf."},
    {"sha1_lines", sha1_lines, METH_VARARGS,
     "sha1_lines(buf, accelerated=True) -> bytes: the first 8 SHA-1 bytes of each newline-separated line of buf "
     "(accelerated: SHA-NI where the CPU has it; False: the portable C path)."},
    {"intersections", intersections, METH_VARARGS,
     "intersections(values, offsets, pairs) -> bytes: for each pair (i, j) of int64 set indexes, the int64 count of "
     "values sets i and j share; set i is values[offsets[i]:offsets[i + 1]] (sorted unique uint32)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shingle", NULL, -1, methods};

PyMODINIT_FUNC PyInit__shingle(void)
{
    int ni = 0;
#ifdef HAVE_SHA_NI_BUILD
    ni = cpu_has_sha_ni();
    if (ni)
        best_blocks = sha1_blocks_ni;
#endif
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "SHA_NI", ni) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
