/* convert.c - Python values to and from the core's C values. */
#include "binding.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

PyObject *gsp_path_encoded(PyObject *arg)
{
	PyObject *path = PyOS_FSPath(arg), *encoded = NULL;

	if (!path)
		return NULL;
	if (PyUnicode_Check(path))
		encoded = PyUnicode_AsEncodedString(path, "utf-8", "surrogateescape");
	else
		PyErr_Format(PyExc_TypeError, "path must be str or os.PathLike[str], not %s",
			     Py_TYPE(path)->tp_name);
	Py_DECREF(path);
	return encoded;
}

int gsp_path_view(PyObject *arg, PyObject **holder, const char **data, size_t *len)
{
	PyObject *path = PyOS_FSPath(arg);
	Py_ssize_t n;

	*holder = NULL;
	if (!path)
		return -1;
	if (!PyUnicode_Check(path)) {
		PyErr_Format(PyExc_TypeError, "path must be str or os.PathLike[str], not %s",
			     Py_TYPE(path)->tp_name);
		Py_DECREF(path);
		return -1;
	}
	/* A str's own UTF-8 (for ASCII, its characters) lives as long as the
	 * str: no copy.  Lone surrogates have none; they are encoded with
	 * surrogateescape, as names that are not UTF-8 come back. */
	if ((*data = PyUnicode_AsUTF8AndSize(path, &n))) {
		*holder = path;
		*len = (size_t)n;
		return 0;
	}
	if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
		Py_DECREF(path);
		return -1;
	}
	PyErr_Clear();
	*holder = PyUnicode_AsEncodedString(path, "utf-8", "surrogateescape");
	Py_DECREF(path);
	if (!*holder)
		return -1;
	*data = PyBytes_AS_STRING(*holder);
	*len = (size_t)PyBytes_GET_SIZE(*holder);
	return 0;
}

int gsp_path_arg(gsp_state_t *st, PyObject *arg, int allow_root, char **out)
{
	PyObject *holder;
	const char *data;
	size_t len;
	int rc = 0;

	*out = NULL;
	if (arg == Py_None && allow_root)
		return 0;
	if (gsp_path_view(arg, &holder, &data, &len) < 0)
		return -1;
	if (!(allow_root && gs_path_is_root(data, len)) && gs_path_normalize(out, data, len) < 0) {
		gsp_raise(st);
		rc = -1;
	}
	Py_DECREF(holder);
	return rc;
}

int gsp_fast_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
		  const char *fmt, char **kwlist, ...)
{
	const char *units = fmt[0] == '|' ? fmt + 1 : fmt;
	PyObject *tuple = NULL, *dict = NULL;
	va_list va;
	int rc = 0;

	va_start(va, kwlist);
	if (!kwnames && units[0] == 'O' && (nargs == 1 || (nargs == 0 && fmt[0] == '|'))) {
		PyObject **first = va_arg(va, PyObject **);
		if (nargs)
			*first = args[0];
		va_end(va);
		return 1;
	}
	/* Anything else (keywords, a missing or extra argument) is parsed as
	 * usual, for the usual messages. */
	if (!(tuple = PyTuple_New(nargs)))
		goto done;
	for (Py_ssize_t i = 0; i < nargs; i++)
		PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
	if (kwnames && PyTuple_GET_SIZE(kwnames)) {
		if (!(dict = PyDict_New()))
			goto done;
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++)
			if (PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0)
				goto done;
	}
	rc = PyArg_VaParseTupleAndKeywords(tuple, dict, fmt, kwlist, va);
done:
	va_end(va);
	Py_XDECREF(tuple);
	Py_XDECREF(dict);
	return rc;
}

const char *gsp_path_utf8(PyObject *text, PyObject **holder)
{
	*holder = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape");
	return *holder ? PyBytes_AS_STRING(*holder) : NULL;
}

PyObject *gsp_str(const char *s)
{
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

PyObject *gsp_hex(const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), id);
	return PyUnicode_FromStringAndSize(hex, GIT_OID_HEXSZ);
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* The 32 hex digits of 16 bytes: each byte split in two nibbles, the
 * nibbles interleaved high first, and '0' or 'a' - 10 added to each. */
static void hex16(char *out, __m128i bytes)
{
	__m128i mask = _mm_set1_epi8(0x0f);
	__m128i lo = _mm_and_si128(bytes, mask);
	__m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
	__m128i halves[2] = {_mm_unpacklo_epi8(hi, lo), _mm_unpackhi_epi8(hi, lo)};

	for (int i = 0; i < 2; i++) {
		__m128i letter = _mm_cmpgt_epi8(halves[i], _mm_set1_epi8(9));
		__m128i digit = _mm_add_epi8(halves[i], _mm_set1_epi8('0'));
		digit = _mm_add_epi8(digit, _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
		_mm_storeu_si128((__m128i *)(out + 16 * i), digit);
	}
}

static void hex_oid(char *hex, const git_oid *id)
{
	/* Bytes 4-19, then 0-15: the overlap is written twice, the same. */
	hex16(hex + 8, _mm_loadu_si128((const __m128i *)(id->id + 4)));
	hex16(hex, _mm_loadu_si128((const __m128i *)id->id));
}
#else
/* The two hex digits of every byte value. */
static const char hex_pairs[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static void hex_oid(char *hex, const git_oid *id)
{
	for (size_t i = 0; i < GIT_OID_RAWSZ; i++)
		memcpy(hex + 2 * i, hex_pairs + 2 * id->id[i], 2);
}
#endif

PyObject *gsp_hex_bytes(const git_oid *id)
{
	/* Written straight into the new object, sixteen bytes at a time
	 * where SSE2 is there: walks make one per file. */
	PyObject *result = PyBytes_FromStringAndSize(NULL, GIT_OID_HEXSZ);

	if (result)
		hex_oid(PyBytes_AS_STRING(result), id);
	return result;
}

int gsp_oid_arg(PyObject *arg, git_oid *out)
{
	Py_buffer view = {0};
	const char *hex;
	Py_ssize_t len;
	int rc = -1;

	if (PyUnicode_Check(arg)) {
		if (!(hex = PyUnicode_AsUTF8AndSize(arg, &len)))
			return -1;
	} else if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) == 0) {
		hex = view.buf;
		len = view.len;
	} else {
		PyErr_Format(PyExc_TypeError, "object id must be str or bytes-like, not %s",
			     Py_TYPE(arg)->tp_name);
		return -1;
	}
	/* Only lowercase 40-hex ids name objects (as git prints them). */
	if (len != GIT_OID_HEXSZ)
		goto done;
	for (Py_ssize_t i = 0; i < len; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			goto done;
	rc = git_oid_fromstrn(out, hex, GIT_OID_HEXSZ) < 0 ? -1 : 0;
done:
	if (rc < 0)
		PyErr_Format(PyExc_ValueError, "Invalid object id: %R", arg);
	if (view.obj)
		PyBuffer_Release(&view);
	return rc;
}

PyObject *gsp_filetype(gsp_state_t *st, uint32_t mode)
{
	/* The four members are looked up once (module init); anything else
	 * goes through FileType.from_filemode for its KeyError. */
	PyObject *member = NULL;

	switch (mode) {
	case GS_MODE_BLOB: member = st->filetype_blob; break;
	case GS_MODE_EXEC: member = st->filetype_exec; break;
	case GS_MODE_LINK: member = st->filetype_link; break;
	case GS_MODE_TREE: member = st->filetype_tree; break;
	}
	if (member)
		return Py_NewRef(member);
	return PyObject_CallMethod(st->FileType, "from_filemode", "I", (unsigned int)mode);
}

/* The int for a filemode: the four git knows are made once. */
static PyObject *mode_int(gsp_state_t *st, uint32_t mode)
{
	PyObject *known = NULL;

	switch (mode) {
	case GS_MODE_BLOB: known = st->mode_blob; break;
	case GS_MODE_EXEC: known = st->mode_exec; break;
	case GS_MODE_LINK: known = st->mode_link; break;
	case GS_MODE_TREE: known = st->mode_tree; break;
	}
	return known ? Py_NewRef(known) : PyLong_FromUnsignedLong(mode);
}

PyObject *gsp_walk_entry(gsp_state_t *st, const gs_dirent *entry, PyObject *name)
{
	/* WalkEntry is a NamedTuple: fill the tuple directly rather than run
	 * its Python __new__ once per entry (walks make thousands). */
	PyTypeObject *type = (PyTypeObject *)st->WalkEntry;
	PyObject *oid = name ? gsp_hex_bytes(&entry->id) : NULL;
	PyObject *mode = oid ? mode_int(st, entry->mode) : NULL;
	PyObject *result = NULL;

	/* Allocated untracked (tp_alloc would zero it and track it): a str,
	 * bytes and int cannot close a cycle, so the collector need not scan
	 * the entry.  A named tuple has no __dict__ to make room for. */
	if (mode && (result = (PyObject *)PyObject_GC_NewVar(PyTupleObject, type, 3))) {
#if PY_VERSION_HEX >= 0x030E0000
		((PyTupleObject *)result)->ob_hash = -1;   /* the tuple's hash, not computed yet */
#endif
		PyTuple_SET_ITEM(result, 0, name);
		PyTuple_SET_ITEM(result, 1, oid);
		PyTuple_SET_ITEM(result, 2, mode);
		return result;
	}
	Py_XDECREF(name);
	Py_XDECREF(oid);
	Py_XDECREF(mode);
	return NULL;
}

int gsp_size_arg(PyObject *arg, const char *what, size_t *out)
{
	Py_ssize_t value;

	if (arg == NULL || arg == Py_None) {
		*out = SIZE_MAX;
		return 0;
	}
	value = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
	if (value == -1 && PyErr_Occurred())
		return -1;
	if (value < 0) {
		PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %zd", what, value);
		return -1;
	}
	*out = (size_t)value;
	return 0;
}

PyTypeObject *gsp_add_type(PyObject *module, PyType_Spec *spec, const char *attr)
{
	PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);

	if (!type)
		return NULL;
	if (attr && PyModule_AddObjectRef(module, attr, type) < 0) {
		Py_DECREF(type);
		return NULL;
	}
	return (PyTypeObject *)type;
}

PyObject *gsp_abc_subclass(PyObject *module, const char *name, PyTypeObject *base,
			   const char *abc)
{
	PyObject *abcs = NULL, *mapping = NULL, *ns = NULL, *cls = NULL, *doc;

	abcs = PyImport_ImportModule("collections.abc");
	if (!abcs || !(mapping = PyObject_GetAttrString(abcs, abc)))
		goto done;
	if (!(doc = PyObject_GetAttrString((PyObject *)base, "__doc__")))
		goto done;
	ns = Py_BuildValue("{s:s,s:N,s:()}", "__module__", "gitstore", "__doc__", doc,
			   "__slots__");
	if (!ns)
		goto done;
	cls = PyObject_CallFunction((PyObject *)Py_TYPE(mapping), "s(OO)O", name,
				    (PyObject *)base, mapping, ns);
	if (!cls)
		goto done;
	/* Immutable like our other types.  The ABC's metaclass made it as a
	 * Python class, which no spec flag reaches; the flag is set before
	 * anything else can see the class (the ABC caches live in _abc_impl,
	 * not in attributes, so isinstance and register keep working). */
	((PyTypeObject *)cls)->tp_flags |= Py_TPFLAGS_IMMUTABLETYPE;
	if (PyModule_AddObjectRef(module, name, cls) < 0)
		Py_CLEAR(cls);
done:
	Py_XDECREF(ns);
	Py_XDECREF(mapping);
	Py_XDECREF(abcs);
	return cls;
}
