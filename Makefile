# Developer shortcuts.  The README's two commands (scripts/demo.sh and
# scripts/test.sh) need none of this.

PY := .venv/bin/python

.PHONY: build test asan bench clean

build:
	bash scripts/bootstrap.sh

test:
	bash scripts/test.sh

# The test suite against an ASan + UBSan build of the extension.  Python
# itself is not instrumented, so the ASan runtime is preloaded; leak
# checking covers the extension's allocations (see tests/lsan.supp).
# --capture=sys lets a sanitizer report reach the terminal even when it
# ends the process.
asan: build
	GITSTORE_SANITIZE=1 $(PY) setup.py -q build_ext --inplace --force
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	PYTHONMALLOC=malloc $(PY) -m pytest -q -p no:cacheprovider --capture=sys $(ARGS); \
	status=$$?; $(PY) setup.py -q build_ext --inplace --force; exit $$status

bench: build
	$(PY) -m pip install -q vost pygit2
	$(PY) bench/bench_read.py
	$(PY) bench/bench_write.py
	$(PY) bench/bench_copy.py
	$(PY) bench/bench_writer.py
	$(PY) bench/bench_archive.py

clean:
	rm -rf build *.egg-info gitstore/*.so
