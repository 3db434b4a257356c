/*
 * receiver._wire: the receiver's common case in C, with exact pure-Python equivalents.
 *
 * Two steps cost most of the receiver's CPU per series in Python, whatever the batching:
 *
 *   plain_v1      a remote-write 1.0 request whose every series is a cached label set
 *                 followed by plain float samples becomes its records and index samples
 *                 (receiver.decoding.RemoteWriteDecoder._decode_v1 does the same, and is
 *                 what runs for any other request: this function answers None for it);
 *   pack_samples  records and index samples become one SamplesBatch per partition
 *                 (aidevops.batches.pack_samples).
 *
 * Neither function decides anything the Python code does not: label sets are only looked up
 * in the decoder's own cache of validated ones, metadata in its own cache, and every layout
 * constant that belongs to a schema (field tags, the staleness marker) is passed in by the
 * caller. tests/unit/receiver/test_wire.py checks both against the Python code, byte for
 * byte, on generated and hostile input. The module is optional: setup.py builds it when a
 * C compiler is there, and the receiver runs the Python code when it is not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A plain float sample as Prometheus writes it (receiver/decoding.py: _FULL_SAMPLE and
 * _ZERO_SAMPLE): field 2 of TimeSeries, 16 bytes (value, then a 6-byte timestamp varint),
 * or 7 bytes when the value is 0.0 and therefore omitted. */
#define FULL_BYTES 18
#define ZERO_BYTES 9
#define STALE_BYTES 8

typedef struct {
    Py_ssize_t start, label_end, end;
    Py_ssize_t samples, zeros;
} Series;

/* Reads a varint of at most 10 bytes; 0 when it runs past ``end`` or is longer. */
static int read_varint(const unsigned char *p, Py_ssize_t end, Py_ssize_t *pos, uint64_t *out)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 70 && *pos < end; shift += 7) {
        unsigned char byte = p[(*pos)++];
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* Whether p[0..6) is a 6-byte varint: five bytes with the continuation bit, then one without. */
static int six_byte_varint(const unsigned char *p)
{
    return (p[0] & p[1] & p[2] & p[3] & p[4] & 0x80) && !(p[5] & 0x80);
}

/* Counts the plain samples of p[pos..end); 0 unless every byte belongs to one. */
static int plain_samples(const unsigned char *p, Py_ssize_t pos, Py_ssize_t end,
                         const char *stale, Series *series)
{
    Py_ssize_t samples = 0, zeros = 0;
    while (pos < end) {
        if (end - pos >= FULL_BYTES && p[pos] == 0x12 && p[pos + 1] == 0x10 && p[pos + 2] == 0x09
            && memcmp(p + pos + 3, stale, STALE_BYTES) != 0 && p[pos + 11] == 0x10
            && six_byte_varint(p + pos + 12)) {
            pos += FULL_BYTES;
        } else if (end - pos >= ZERO_BYTES && p[pos] == 0x12 && p[pos + 1] == 0x07
                   && p[pos + 2] == 0x10 && six_byte_varint(p + pos + 3)) {
            pos += ZERO_BYTES;
            zeros++;
        } else {
            return 0;
        }
        samples++;
    }
    series->samples = samples;
    series->zeros = zeros;
    return samples > 0;
}

/* Splits a WriteRequest into its series; -1 unless it holds series (field 1) and nothing else. */
static Py_ssize_t split_series(const unsigned char *p, Py_ssize_t n, Series **out)
{
    Py_ssize_t count = 0, capacity = 0, pos = 0;
    Series *series = NULL;
    while (pos < n) {
        uint64_t length;
        if (p[pos++] != 0x0a || !read_varint(p, n, &pos, &length) || length > (uint64_t)(n - pos)) {
            PyMem_Free(series);
            return -1;
        }
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 256;
            Series *grown = PyMem_Realloc(series, capacity * sizeof(Series));
            if (grown == NULL) {
                PyMem_Free(series);
                PyErr_NoMemory();
                return -2;
            }
            series = grown;
        }
        series[count].start = pos;
        pos += (Py_ssize_t)length;
        series[count++].end = pos;
    }
    *out = series;
    return count;
}

/* The end of a series' labels: the fields 1 at its start; -1 when one runs past its end. */
static Py_ssize_t label_end(const unsigned char *p, Py_ssize_t pos, Py_ssize_t end)
{
    while (pos < end && p[pos] == 0x0a) {
        uint64_t length;
        pos++;
        if (!read_varint(p, end, &pos, &length) || length > (uint64_t)(end - pos)) {
            return -1;
        }
        pos += (Py_ssize_t)length;
    }
    return pos;
}

/* A series' samples in the index's form: as sent, with zero samples written in full. */
static PyObject *index_samples(const unsigned char *p, const Series *s)
{
    Py_ssize_t size = s->end - s->label_end;
    if (!s->zeros) {
        return PyBytes_FromStringAndSize((const char *)p + s->label_end, size);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, s->samples * FULL_BYTES);
    if (out == NULL) {
        return NULL;
    }
    unsigned char *w = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t pos = s->label_end; pos < s->end;) {
        if (p[pos + 1] == 0x10) {
            memcpy(w, p + pos, FULL_BYTES);
            pos += FULL_BYTES;
        } else {
            static const unsigned char zero[11] = {0x12, 0x10, 0x09};
            memcpy(w, zero, sizeof zero);
            memcpy(w + sizeof zero, p + pos + 2, ZERO_BYTES - 2);
            pos += ZERO_BYTES;
        }
        w += FULL_BYTES;
    }
    return out;
}

PyDoc_STRVAR(plain_v1_doc,
"plain_v1(payload, labels, metadata, suffix, stale, index, /)\n--\n\n"
"The records of a 1.0 WriteRequest whose series are all cached label sets followed by\n"
"plain float samples: ``(records, index_samples, samples)``, or None for any other.\n\n"
"``labels`` maps label bytes to the decoder's entry ``(series id, key, id field, name)``;\n"
"``metadata`` maps a name to its encoded fields. A record is ``(series id, key, series\n"
"bytes + id field + metadata + suffix)``; ``index_samples`` is empty unless ``index``.");

static PyObject *plain_v1(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "plain_v1 takes 6 arguments");
        return NULL;
    }
    PyObject *payload = args[0], *labels = args[1], *metadata = args[2], *suffix = args[3];
    PyObject *stale = args[4];
    int index = PyObject_IsTrue(args[5]);
    if (index < 0) {
        return NULL;
    }
    if (!PyBytes_Check(payload) || !PyDict_Check(labels) || !PyDict_Check(metadata)
        || !PyBytes_Check(suffix) || !PyBytes_Check(stale) || PyBytes_GET_SIZE(stale) != STALE_BYTES) {
        PyErr_SetString(PyExc_TypeError, "plain_v1(bytes, dict, dict, bytes, 8 bytes, bool)");
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(payload);
    Series *series = NULL;
    Py_ssize_t count = split_series(p, PyBytes_GET_SIZE(payload), &series);
    if (count == -2) {
        return NULL;
    }
    if (count <= 0) {
        PyMem_Free(series);
        Py_RETURN_NONE;
    }
    PyObject *records = NULL, *indexed = NULL, *result = NULL;
    Py_ssize_t total = 0, suffix_size = PyBytes_GET_SIZE(suffix);
    const char *stale_bytes = PyBytes_AS_STRING(stale);
    for (Py_ssize_t i = 0; i < count; i++) {
        Series *s = &series[i];
        s->label_end = label_end(p, s->start, s->end);
        if (s->label_end < 0 || !plain_samples(p, s->label_end, s->end, stale_bytes, s)) {
            goto other;
        }
        total += s->samples;
    }
    records = PyList_New(count);
    indexed = PyList_New(index ? count : 0);
    if (records == NULL || indexed == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Series *s = &series[i];
        /* The record's tuple first: allocating it may run the garbage collector, which must
         * not happen while the borrowed references below are held. Bytes do not. */
        PyObject *record = PyTuple_New(3);
        if (record == NULL) {
            goto done;
        }
        PyList_SET_ITEM(records, i, record);
        PyObject *key = PyBytes_FromStringAndSize((const char *)p + s->start, s->label_end - s->start);
        if (key == NULL) {
            goto done;
        }
        PyObject *entry = PyDict_GetItemWithError(labels, key); /* borrowed */
        Py_DECREF(key);
        if (entry == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            goto other;
        }
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 4
            || !PyBytes_Check(PyTuple_GET_ITEM(entry, 2))) {
            PyErr_SetString(PyExc_TypeError, "a label entry is (series id, key, bytes, name)");
            goto done;
        }
        PyObject *meta = PyDict_GetItemWithError(metadata, PyTuple_GET_ITEM(entry, 3));
        if (meta == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            goto other;
        }
        if (!PyBytes_Check(meta)) {
            PyErr_SetString(PyExc_TypeError, "metadata values are bytes");
            goto done;
        }
        PyObject *id_field = PyTuple_GET_ITEM(entry, 2);
        Py_ssize_t raw = s->end - s->start, id_size = PyBytes_GET_SIZE(id_field);
        Py_ssize_t meta_size = PyBytes_GET_SIZE(meta);
        PyObject *value = PyBytes_FromStringAndSize(NULL, raw + id_size + meta_size + suffix_size);
        if (value == NULL) {
            goto done;
        }
        char *w = PyBytes_AS_STRING(value);
        memcpy(w, p + s->start, raw);
        memcpy(w + raw, PyBytes_AS_STRING(id_field), id_size);
        memcpy(w + raw + id_size, PyBytes_AS_STRING(meta), meta_size);
        memcpy(w + raw + id_size + meta_size, PyBytes_AS_STRING(suffix), suffix_size);
        PyTuple_SET_ITEM(record, 0, Py_NewRef(PyTuple_GET_ITEM(entry, 0)));
        PyTuple_SET_ITEM(record, 1, Py_NewRef(PyTuple_GET_ITEM(entry, 1)));
        PyTuple_SET_ITEM(record, 2, value);
        if (index) {
            PyObject *samples = index_samples(p, s);
            if (samples == NULL) {
                goto done;
            }
            PyList_SET_ITEM(indexed, i, samples);
        }
    }
    result = Py_BuildValue("(OOn)", records, indexed, total);
    goto done;
other:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(records);
    Py_XDECREF(indexed);
    PyMem_Free(series);
    return result;
}

/* The number of bytes of ``value`` as a varint. */
static Py_ssize_t varint_size(uint64_t value)
{
    Py_ssize_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static char *write_varint(char *w, uint64_t value)
{
    while (value >= 0x80) {
        *w++ = (char)((value & 0x7f) | 0x80);
        value >>= 7;
    }
    *w++ = (char)value;
    return w;
}

static char *write_field(char *w, PyObject *tag, Py_ssize_t length)
{
    memcpy(w, PyBytes_AS_STRING(tag), PyBytes_GET_SIZE(tag));
    return write_varint(w + PyBytes_GET_SIZE(tag), (uint64_t)length);
}

PyDoc_STRVAR(pack_samples_doc,
"pack_samples(records, samples, partitions, max_bytes, series_tag, ids_tag, counts_tag,\n"
"             samples_tag, tail, /)\n--\n\n"
"aidevops.batches.pack_samples for receiver records ``(series id, key, value)``: one\n"
"record ``(partition, None, bytes)`` per partition (several when over ``max_bytes``),\n"
"each partition's series in request order. ``tail`` is what ends every record (the\n"
"received_at field, then the schema version); the tags are the index fields'.");

static PyObject *pack_samples(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "pack_samples takes 9 arguments");
        return NULL;
    }
    PyObject *records = args[0], *samples = args[1];
    Py_ssize_t partitions = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[3]);
    PyObject *series_tag = args[4], *ids_tag = args[5], *counts_tag = args[6];
    PyObject *samples_tag = args[7], *tail = args[8];
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!PyList_Check(records) || !PyList_Check(samples)
        || PyList_GET_SIZE(samples) != PyList_GET_SIZE(records) || partitions <= 0
        || !PyBytes_Check(series_tag) || !PyBytes_Check(ids_tag) || !PyBytes_Check(counts_tag)
        || !PyBytes_Check(samples_tag) || !PyBytes_Check(tail)) {
        PyErr_SetString(PyExc_TypeError,
                        "pack_samples(list, list of the same length, partitions > 0, int, bytes...)");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    PyObject *out = PyList_New(0);
    if (out == NULL || n == 0) {
        return out;
    }
    /* Per member: its partition, value and samples; then the members sorted by partition,
     * stable (a counting sort), as numpy's stable argsort orders them in Python. */
    Py_ssize_t *route = PyMem_Malloc(n * sizeof(Py_ssize_t));
    Py_ssize_t *order = PyMem_Malloc(n * sizeof(Py_ssize_t));
    Py_ssize_t *first = PyMem_Calloc(partitions + 1, sizeof(Py_ssize_t));
    uint64_t *ids = PyMem_Malloc(n * sizeof(uint64_t));
    if (route == NULL || order == NULL || first == NULL || ids == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        PyObject *sample = PyList_GET_ITEM(samples, i);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) != 3
            || !PyBytes_Check(PyTuple_GET_ITEM(record, 2)) || !PyBytes_Check(sample)) {
            PyErr_SetString(PyExc_TypeError, "records are (series id, key, bytes); samples bytes");
            goto fail;
        }
        ids[i] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(record, 0));
        if (ids[i] == (uint64_t)-1 && PyErr_Occurred()) {
            goto fail;
        }
        route[i] = (Py_ssize_t)(ids[i] % (uint64_t)partitions);
        first[route[i] + 1]++;
    }
    for (Py_ssize_t r = 0; r < partitions; r++) {
        first[r + 1] += first[r];
    }
    {
        Py_ssize_t *next = PyMem_Malloc(partitions * sizeof(Py_ssize_t));
        if (next == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(next, first, partitions * sizeof(Py_ssize_t));
        for (Py_ssize_t i = 0; i < n; i++) {
            order[next[route[i]]++] = i;
        }
        PyMem_Free(next);
    }
    /* What a member costs a record, as pack_samples counts it: the field head (estimated
     * from the value's length), the value, its samples, and 12 bytes of id and count. */
    Py_ssize_t tag_size = PyBytes_GET_SIZE(series_tag);
    Py_ssize_t budget = max_bytes - PyBytes_GET_SIZE(tail) - 32;
    for (Py_ssize_t r = 0; r < partitions; r++) {
        Py_ssize_t at = first[r], stop = first[r + 1];
        while (at < stop) {
            Py_ssize_t end = at, used = 0, size = 0, sample_bytes = 0;
            while (end < stop) {
                Py_ssize_t i = order[end];
                Py_ssize_t value = PyBytes_GET_SIZE(PyTuple_GET_ITEM(PyList_GET_ITEM(records, i), 2));
                Py_ssize_t own = PyBytes_GET_SIZE(PyList_GET_ITEM(samples, i));
                Py_ssize_t cost = 2 + (value >= 1 << 7) + (value >= 1 << 14) + (value >= 1 << 21)
                                  + value + own + 12;
                if (end > at && used + cost > budget) {
                    break;
                }
                used += cost;
                size += tag_size + varint_size((uint64_t)value) + value;
                sample_bytes += own;
                end++;
            }
            Py_ssize_t members = end - at;
            size += PyBytes_GET_SIZE(ids_tag) + varint_size(8 * (uint64_t)members) + 8 * members;
            size += PyBytes_GET_SIZE(counts_tag) + varint_size(4 * (uint64_t)members) + 4 * members;
            size += PyBytes_GET_SIZE(samples_tag) + varint_size((uint64_t)sample_bytes) + sample_bytes;
            size += PyBytes_GET_SIZE(tail);
            PyObject *value = PyBytes_FromStringAndSize(NULL, size);
            if (value == NULL) {
                goto fail;
            }
            char *w = PyBytes_AS_STRING(value);
            for (Py_ssize_t k = at; k < end; k++) {
                PyObject *member = PyTuple_GET_ITEM(PyList_GET_ITEM(records, order[k]), 2);
                w = write_field(w, series_tag, PyBytes_GET_SIZE(member));
                memcpy(w, PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member));
                w += PyBytes_GET_SIZE(member);
            }
            w = write_field(w, ids_tag, 8 * members);
            for (Py_ssize_t k = at; k < end; k++) {
                uint64_t id = ids[order[k]];
                for (int b = 7; b >= 0; b--) {
                    *w++ = (char)(id >> (8 * b));
                }
            }
            w = write_field(w, counts_tag, 4 * members);
            for (Py_ssize_t k = at; k < end; k++) {
                uint32_t count = (uint32_t)(PyBytes_GET_SIZE(PyList_GET_ITEM(samples, order[k])) / FULL_BYTES);
                for (int b = 0; b < 4; b++) {
                    *w++ = (char)(count >> (8 * b));
                }
            }
            w = write_field(w, samples_tag, sample_bytes);
            for (Py_ssize_t k = at; k < end; k++) {
                PyObject *own = PyList_GET_ITEM(samples, order[k]);
                memcpy(w, PyBytes_AS_STRING(own), PyBytes_GET_SIZE(own));
                w += PyBytes_GET_SIZE(own);
            }
            memcpy(w, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail));
            PyObject *packed = Py_BuildValue("(nON)", r, Py_None, value);
            if (packed == NULL || PyList_Append(out, packed) < 0) {
                Py_XDECREF(packed);
                goto fail;
            }
            Py_DECREF(packed);
            at = end;
        }
    }
    PyMem_Free(route);
    PyMem_Free(order);
    PyMem_Free(first);
    PyMem_Free(ids);
    return out;
fail:
    PyMem_Free(route);
    PyMem_Free(order);
    PyMem_Free(first);
    PyMem_Free(ids);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"plain_v1", (PyCFunction)(void (*)(void))plain_v1, METH_FASTCALL, plain_v1_doc},
    {"pack_samples", (PyCFunction)(void (*)(void))pack_samples, METH_FASTCALL, pack_samples_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "receiver._wire",
    .m_doc = "The receiver's common case in C (see receiver/_wire.c).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__wire(void)
{
    return PyModule_Create(&module);
}
