# pangu-c: Pangu-Weather in C.  make | make check | make demo | make bench
CC ?= cc
# OPT: optimisation and instrumentation (the sanitizer targets change it).
OPT ?= -O2
# Warnings are errors in a developer build (a git checkout, and CI), not for
# users building a copy with another compiler: WERROR= (empty) or -Werror.
WERROR ?= $(if $(wildcard .git),-Werror,)
# (omitted trailing fields of an initializer are zero: schemas list only the fields they need)
CFLAGS = $(OPT) -std=c11 -Wall -Wextra -Wno-missing-field-initializers $(WERROR) -fopenmp -I.
# Include and library paths from pkg-config (environment modules set
# PKG_CONFIG_PATH); the plain library name where a package has no .pc file.
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs = $(or $(shell pkg-config --libs $(1) 2>/dev/null),$(2))
PKG_CFLAGS := $(call pc_cflags,netcdf) $(call pc_cflags,hdf5) $(call pc_cflags,eccodes) $(call pc_cflags,inih) \
  $(call pc_cflags,libprotobuf-c) $(or $(call pc_cflags,openblas),-I/usr/include/x86_64-linux-gnu/openblas-pthread)
PKG_LIBS := $(call pc_libs,inih,-linih) $(call pc_libs,netcdf,-lnetcdf) $(call pc_libs,hdf5,-lhdf5) \
  $(call pc_libs,eccodes,-leccodes) $(call pc_libs,libprotobuf-c,-lprotobuf-c) $(call pc_libs,openblas,-lopenblas)
CFLAGS += $(PKG_CFLAGS)
LDLIBS = $(PKG_LIBS) -lm -fopenmp
# DEPS=0: the libraries come from elsewhere (modules, a site install): the
# targets do not call apt-get (.ci/deps.sh) before building.
DEPS ?= 1
DEPS_SH = $(if $(filter 1,$(DEPS)),./.ci/deps.sh,true)
BUILD ?= build
BIN ?= bin
# The ONNX schema Debian ships (libonnx-dev), compiled by protoc-c at build time
# for the importer of the released models (model/onnx.c).
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
# make CURL=0: without libcurl in bin-nocurl/ (pangu fetch then says it was
# built without network access); by default pangu fetch uses Debian's libcurl
# and cJSON (the services' JSON indexes and replies).
CURL ?= 1
ifeq ($(CURL),1)
CFLAGS += -DPANGU_CURL $(call pc_cflags,libcurl)
LDLIBS += $(call pc_libs,libcurl,-lcurl) $(call pc_libs,libcjson,-lcjson)
else
BUILD = build-nocurl
BIN = bin-nocurl
endif
# make MPI=1: Open MPI build in bin-mpi/ (initial times spread over ranks).
ifeq ($(MPI),1)
CC = mpicc
CFLAGS += -DPANGU_MPI
BUILD = build-mpi
BIN = bin-mpi
endif

LIB_SRC := $(wildcard util/*.c model/*.c model/fast/*.c io/*.c data/*.c eval/*.c configs/*.c lib/*.c)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
GEN := $(BUILD)/gen
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN)/onnx.pb-c.o
CFLAGS += -I$(GEN)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
HEADERS := $(wildcard */*.h model/fast/*.h)

.PHONY: all man deps check test asan ubsan bench demo demo-models notebooks clean fixtures mpi-check fuzz nocurl-check portable-check
all: $(BIN)/pangu lib man

# Man pages from every command's --help (Debian's help2man): pangu.1 and
# pangu-COMMAND.1 in $(BUILD)/man; skipped, with a note, without help2man.
# Each page is made from a one-line script named pangu-COMMAND (its title and
# NAME), the NAME's line from pangu help --summary (cli/main.c) and the
# EXAMPLES of cli/man/PAGE.h2m (commands of the docs).
PANGU_COMMANDS = step info import init plan forecast stats grad train synth eval regrid fetch tune track
man: $(BIN)/pangu $(wildcard cli/man/*.h2m)
	@if command -v help2man >/dev/null; then mkdir -p $(BUILD)/man/cmd && v=$$($(BIN)/pangu --version | head -1 | cut -d' ' -f3) && \
	  help2man -N -n "Pangu-Weather forecasts, training and verification" --version-string="$$v" \
	    --include cli/man/pangu.h2m -o $(BUILD)/man/pangu.1 $(BIN)/pangu && \
	  for c in $(PANGU_COMMANDS); do printf '#!/bin/sh\nexec "%s" %s "$$@"\n' "$(abspath $(BIN)/pangu)" $$c >$(BUILD)/man/cmd/pangu-$$c && \
	    chmod +x $(BUILD)/man/cmd/pangu-$$c && \
	    help2man -N -n "$$($(BIN)/pangu help --summary $$c)" --version-string="$$v" --include cli/man/pangu-$$c.h2m \
	      -o $(BUILD)/man/pangu-$$c.1 $(BUILD)/man/cmd/pangu-$$c || exit 1; done; \
	else echo "help2man not installed: no man pages (apt-get install help2man)"; fi

deps:
	@$(DEPS_SH) build

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(GEN)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(GEN) $(ONNX_PROTO)
# generated code: the project's warnings are not its author's
$(GEN)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c
	$(CC) $(OPT) $(LIB_PIC) -std=c11 -w -c $< -o $@
$(BUILD)/model/onnx.o $(BUILD)/tests/test_onnx.o: $(GEN)/onnx.pb-c.h

$(BUILD)/libpangu.a: $(LIB_OBJ)
	@rm -f $@ # afresh: members of removed or renamed sources must not linger
	ar rcs $@ $^

$(BIN)/pangu: $(CLI_OBJ) $(BUILD)/libpangu.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/pangu-tests: $(TEST_OBJ) $(BUILD)/libpangu.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ -lcunit $(LDLIBS)

# ---- the library: libpangu.so, libpangu.a, pangu.h, pangu.pc; install ----
# One set of objects serves both libraries: position-independent, and only
# the public API (lib/pangu.h, PANGU_API) visible outside libpangu.so; the
# version script names the same symbols (PANGU_1, PANGU_1.1 ...). The pangu
# binary links libpangu.a, so the installed copy runs from any prefix without rpath.
LIB_PIC = -fPIC -fvisibility=hidden
CFLAGS += $(LIB_PIC)
# the soname's major number is pangu.h's, so the two cannot disagree
SO_MAJOR := $(shell sed -n 's/^\#define PANGU_VERSION_MAJOR \([0-9]*\).*/\1/p' lib/pangu.h)
SO_REAL = libpangu.so.$(SO_MAJOR).0.0
$(BUILD)/$(SO_REAL): $(LIB_OBJ) lib/pangu.map
	$(CC) -shared -Wl,-soname,libpangu.so.$(SO_MAJOR) -Wl,--version-script=lib/pangu.map -Wl,-z,defs \
	  -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf $(SO_REAL) $(BUILD)/libpangu.so.$(SO_MAJOR)
	ln -sf libpangu.so.$(SO_MAJOR) $(BUILD)/libpangu.so

# make install PREFIX=/opt/pangu [DESTDIR=staging]: bin/pangu, lib/libpangu.{so,a},
# include/pangu.h, lib/pkgconfig/pangu.pc, share/man/man1/pangu*.1, and
# share/modulefiles/pangu/VERSION (Environment Modules; Tcl) and VERSION.lua
# (Lmod, which prefers it): module use PREFIX/share/modulefiles; module load pangu.
# pangu.pc (lib/pc.sh): the dependencies in Requires.private, or their
# flags in Libs.private, so that pkg-config --static links libpangu.a.
PREFIX ?= /usr/local
DESTDIR ?=
PC_DEPS = netcdf=-lnetcdf hdf5=-lhdf5 eccodes=-leccodes inih=-linih libprotobuf-c=-lprotobuf-c openblas=-lopenblas \
  $(if $(filter 1,$(CURL)),libcurl=-lcurl libcjson=-lcjson)
I_DIRS = $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/modulefiles/pangu
I_MODULES = $(PANGU_VERSION_STRING) $(PANGU_VERSION_STRING).lua
I_MAN = pangu.1 $(PANGU_COMMANDS:%=pangu-%.1)
.PHONY: lib install uninstall install-check
lib: $(BUILD)/libpangu.a $(BUILD)/$(SO_REAL)
install: $(BIN)/pangu lib man
	@mkdir -p $(BUILD)
	lib/pc.sh '$(PREFIX)' '$(PANGU_VERSION_STRING)' '$(CC)' $(PC_DEPS) >$(BUILD)/pangu.pc
	install -d $(I_DIRS)
	install -m 755 $(BIN)/pangu $(DESTDIR)$(PREFIX)/bin/pangu
	install -m 644 $(BUILD)/libpangu.a $(DESTDIR)$(PREFIX)/lib/libpangu.a
	install -m 755 $(BUILD)/$(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(PREFIX)/lib/libpangu.so.$(SO_MAJOR)
	ln -sf libpangu.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/libpangu.so
	install -m 644 lib/pangu.h $(DESTDIR)$(PREFIX)/include/pangu.h
	install -m 644 $(BUILD)/pangu.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/pangu.pc
	@for m in $(I_MAN); do [ ! -f $(BUILD)/man/$$m ] || install -m 644 $(BUILD)/man/$$m $(DESTDIR)$(PREFIX)/share/man/man1/$$m || exit 1; done
	for f in tcl lua; do sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(PANGU_VERSION_STRING)|g' -e 's|@SO_MAJOR@|$(SO_MAJOR)|g' \
	  lib/modulefile.$$f.in >$(BUILD)/modulefile.$$f || exit 1; done
	install -m 644 $(BUILD)/modulefile.tcl $(DESTDIR)$(PREFIX)/share/modulefiles/pangu/$(PANGU_VERSION_STRING)
	install -m 644 $(BUILD)/modulefile.lua $(DESTDIR)$(PREFIX)/share/modulefiles/pangu/$(PANGU_VERSION_STRING).lua
# Removes what install put, then those of its directories left empty.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pangu $(DESTDIR)$(PREFIX)/include/pangu.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/pangu.pc \
	  $(DESTDIR)$(PREFIX)/lib/libpangu.a $(DESTDIR)$(PREFIX)/lib/$(SO_REAL) $(DESTDIR)$(PREFIX)/lib/libpangu.so.$(SO_MAJOR) \
	  $(DESTDIR)$(PREFIX)/lib/libpangu.so $(I_MAN:%=$(DESTDIR)$(PREFIX)/share/man/man1/%) \
	  $(I_MODULES:%=$(DESTDIR)$(PREFIX)/share/modulefiles/pangu/%)
	-@for d in bin include lib/pkgconfig lib share/man/man1 share/man share/modulefiles/pangu share/modulefiles share; do \
	  [ ! -d $(DESTDIR)$(PREFIX)/$$d ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$(PREFIX)/$$d; done
# The installed copy in a temporary prefix: a program built with pkg-config against it (tests/install_test.sh).
install-check: $(BIN)/pangu lib man
	tests/install_test.sh
PANGU_VERSION_STRING = $(shell sed -n 's/^\#define PANGU_VERSION "\(.*\)"/\1/p' util/util.h)
# Three places say the version: lib/pangu.h's numbers (the public header, the
# soname above), util/util.h's PANGU_VERSION (outputs' provenance, --version,
# pangu.pc; util/ includes nothing outside util/) and lib/pangu.map's nodes
# (new symbols only). The build stops when the first two disagree.
PANGU_H_VERSION := $(shell sed -n 's/^\#define PANGU_VERSION_MAJOR \([0-9]*\).*/\1/p' lib/pangu.h).$(shell sed -n 's/^\#define PANGU_VERSION_MINOR \([0-9]*\).*/\1/p' lib/pangu.h)
ifneq ($(PANGU_VERSION_STRING),$(PANGU_H_VERSION))
$(error util/util.h: PANGU_VERSION "$(PANGU_VERSION_STRING)" differs from lib/pangu.h's version $(PANGU_H_VERSION) (PANGU_VERSION_MAJOR.PANGU_VERSION_MINOR): make them agree)
endif

# The tests: every kernel against a plain twin, the whole step against
# committed fixtures made by ../shared/reference/pangu_ref.py.
# The shell suites, in the order `make check` runs them (each takes the
# binary; install_test.sh takes none); the sanitizer builds run SAN_SCRIPTS.
TEST_SCRIPTS = cli_test regrid_cdo_test forecast_test data_test train_test synth_test eval_test report_test fetch_test \
  fetch_models_test chain_test released_test plausible_test configs_test files_test tune_test track_test install_test robust_test \
  trackeval_test layers_test
SAN_SCRIPTS = cli_test forecast_test data_test fetch_test fetch_models_test
check: deps
	$(MAKE) $(BIN)/pangu $(BIN)/pangu-tests
	OMP_NUM_THREADS=2 $(BIN)/pangu-tests
	set -e; for t in $(TEST_SCRIPTS); do \
	  if [ $$t = install_test ]; then tests/$$t.sh; else tests/$$t.sh $(BIN)/pangu; fi; done
test: check

# The build without libcurl: pangu fetch says it has no network access.
nocurl-check: deps
	$(MAKE) CURL=0 bin-nocurl/pangu
	bin-nocurl/pangu fetch --source gfs --time 2026-12-01 --out /tmp/pangu-nocurl 2>&1 | grep -q "built without network access"
	@echo "nocurl: pangu fetch says it was built without network access"

# The build a CPU other than x86-64 gets (PANGU_PORTABLE: no x86 kernels;
# OpenBLAS and the plain twins fill the tables): it compiles, links and passes
# the CUnit suite, and a step gives the x86 build's OpenBLAS bits.
portable-check: deps
	$(MAKE) BUILD=build-portable BIN=bin-portable OPT="-O2 -DPANGU_PORTABLE" bin-portable/pangu bin-portable/pangu-tests
	OMP_NUM_THREADS=2 bin-portable/pangu-tests
	tests/portable_test.sh bin-portable/pangu $(BIN)/pangu

# gcc leaves float-cast-overflow (a double too large for an int: undefined) out of -fsanitize=undefined
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=float-cast-overflow -fno-sanitize-recover=float-cast-overflow
asan: deps
	$(MAKE) BUILD=build-asan BIN=bin-asan OPT="$(SAN_FLAGS) -fsanitize=address,undefined" \
	  bin-asan/pangu bin-asan/pangu-tests
	ASAN_OPTIONS=detect_leaks=0 OMP_NUM_THREADS=2 bin-asan/pangu-tests
	set -e; for t in $(SAN_SCRIPTS); do ASAN_OPTIONS=detect_leaks=0 tests/$$t.sh bin-asan/pangu; done
ubsan: deps
	$(MAKE) BUILD=build-ubsan BIN=bin-ubsan OPT="$(SAN_FLAGS) -fsanitize=undefined -fno-sanitize-recover=undefined" \
	  bin-ubsan/pangu bin-ubsan/pangu-tests
	OMP_NUM_THREADS=2 bin-ubsan/pangu-tests
	set -e; for t in $(SAN_SCRIPTS); do tests/$$t.sh bin-ubsan/pangu; done

bench: deps
	$(MAKE) $(BIN)/pangu $(BIN)/sgemm-bench
	tests/bench.sh $(BIN)/pangu $(BIN)/sgemm-bench
$(BIN)/sgemm-bench: tests/sgemm_bench.c $(BUILD)/libpangu.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The main job: hierarchical and iterated-1h forecasts of the shipped demo
# models on held-out synthetic data, verified with baselines (out/demo/).
demo: deps
	$(MAKE) $(BIN)/pangu
	configs/demo/run.sh $(BIN)/pangu

# Optional Python extra: the notebooks of notebooks-export/ redraw the paper's
# figures from a pangu eval output (NB_OUT, out/demo made first if missing)
# and are exported there as HTML and Markdown (Debian's Jupyter).
NB_OUT ?= out/demo
notebooks:
	@$(DEPS_SH) notebooks
	@[ -s $(NB_OUT)/scores.csv ] || [ "$(NB_OUT)" != out/demo ] || $(MAKE) demo
	notebooks-export/run.sh $(NB_OUT)

# Retrain the shipped demo models (minutes each on 2 cores).
demo-models: deps
	$(MAKE) $(BIN)/pangu
	configs/demo/train.sh $(BIN)/pangu

# Regenerate the committed fixtures (needs the PyTorch reference).
fixtures:
	$(DEPS_SH) reference
	tests/make_fixtures.sh

# Forecasts across processes: outputs of mpirun -np 2 equal a one-process run.
mpi-check: deps
	$(DEPS_SH) mpi
	$(MAKE) MPI=1 bin-mpi/pangu
	tests/mpi_test.sh bin-mpi/pangu

# libFuzzer (clang from Debian) on the parsers: FUZZ_SEC seconds each. The
# whole library is built with clang's fuzzer instrumentation in build-fuzz/ and
# the targets link it, so no list of sources here goes stale. UBSan findings
# stop the run as ASan's do; -timeout flags an input that blocks (a FIFO).
# Warnings are not errors there: the project holds to gcc's, clang has others.
FUZZ_SEC ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LINK = clang -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -fopenmp -I. -I$(FUZZ_BUILD)/gen $(PKG_CFLAGS)
FUZZ_BUILD = build-fuzz
# crash inputs go to out/fuzz/artifacts/, not the tree's root
FUZZ_RUN = -max_total_time=$(FUZZ_SEC) -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=out/fuzz/artifacts/
fuzz: deps
	$(DEPS_SH) fuzz
	@mkdir -p bin-fuzz out/fuzz/npy out/fuzz/cfg out/fuzz/onnx out/fuzz/artifacts
	$(MAKE) CC=clang WERROR= BUILD=$(FUZZ_BUILD) OPT="-g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libpangu.a
	$(FUZZ_LINK) tests/fuzz_npy.c $(FUZZ_BUILD)/libpangu.a $(LDLIBS) -o bin-fuzz/fuzz_npy
	$(FUZZ_LINK) tests/fuzz_cfg.c $(FUZZ_BUILD)/libpangu.a $(LDLIBS) -o bin-fuzz/fuzz_cfg
	$(FUZZ_LINK) tests/fuzz_onnx.c $(FUZZ_BUILD)/libpangu.a $(LDLIBS) -o bin-fuzz/fuzz_onnx
	set -e; for t in besttrack coast tracks; do \
	  $(FUZZ_LINK) tests/fuzz_$$t.c $(FUZZ_BUILD)/libpangu.a $(LDLIBS) -o bin-fuzz/fuzz_$$t; \
	  mkdir -p out/fuzz/$$t; cp tests/fixtures/fuzz-seeds/$$t/* out/fuzz/$$t/; done
	printf '\x93NUMPY\x01\x00v\x00{"descr": "<f4", "fortran_order": False, "shape": (5, 13, 721, 1440), }' >out/fuzz/npy/seed
	printf '[a]\nx = 2\nmodel_24h = m.h5\n[b]\ny = 3\n' >out/fuzz/cfg/seed
	cc -O1 -std=c11 -Wall -Wextra -Werror -I$(FUZZ_BUILD)/gen tests/fuzz_onnx_seed.c $(FUZZ_BUILD)/gen/onnx.pb-c.c \
	  -lprotobuf-c -o bin-fuzz/fuzz_onnx_seed
	bin-fuzz/fuzz_onnx_seed tests/fixtures/released/pangu_weather_24.onnx out/fuzz/onnx out/fuzz/onnx-data
	bin-fuzz/fuzz_npy $(FUZZ_RUN) out/fuzz/npy
	bin-fuzz/fuzz_cfg $(FUZZ_RUN) out/fuzz/cfg
	FUZZ_ONNX_DATA=out/fuzz/onnx-data bin-fuzz/fuzz_onnx $(FUZZ_RUN) -max_len=65536 out/fuzz/onnx
	bin-fuzz/fuzz_besttrack $(FUZZ_RUN) -max_len=8192 out/fuzz/besttrack
	bin-fuzz/fuzz_coast $(FUZZ_RUN) -max_len=8192 out/fuzz/coast
	bin-fuzz/fuzz_tracks $(FUZZ_RUN) -max_len=8192 out/fuzz/tracks

clean:
	rm -rf bin-fuzz build-fuzz build build-asan build-ubsan build-mpi build-nocurl bin bin-asan bin-ubsan bin-mpi bin-nocurl out
