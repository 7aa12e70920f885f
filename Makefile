# pangu-c: Pangu-Weather in C.  make | make check | make demo | make bench
CC ?= cc
# OPT: optimisation and instrumentation (the sanitizer targets change it).
OPT ?= -O2
CFLAGS = $(OPT) -std=c11 -Wall -Wextra -Werror -fopenmp -I.
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null)
HDF5_LIBS := $(shell pkg-config --libs hdf5 2>/dev/null)
CFLAGS += $(HDF5_CFLAGS) -I/usr/include/x86_64-linux-gnu/openblas-pthread
LDLIBS = -linih -lnetcdf $(HDF5_LIBS) -leccodes -lopenblas -lm -fopenmp
BUILD ?= build
BIN ?= bin
# make CURL=0: without libcurl in bin-nocurl/ (pangu fetch then says it was
# built without network access); by default pangu fetch uses Debian's libcurl
# and cJSON (the services' JSON indexes and replies).
CURL ?= 1
ifeq ($(CURL),1)
CFLAGS += -DPANGU_CURL
LDLIBS += -lcurl -lcjson
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

LIB_SRC := $(wildcard util/*.c model/*.c io/*.c data/*.c eval/*.c configs/*.c)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
HEADERS := $(wildcard */*.h)

.PHONY: all deps check test asan ubsan bench demo demo-models notebooks clean fixtures mpi-check fuzz nocurl-check
all: $(BIN)/pangu

deps:
	@./.ci/deps.sh build

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpangu.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BIN)/pangu: $(CLI_OBJ) $(BUILD)/libpangu.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/pangu-tests: $(TEST_OBJ) $(BUILD)/libpangu.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ -lcunit $(LDLIBS)

# The tests: every kernel against a plain twin, the whole step against
# committed fixtures made by ../shared/reference/pangu_ref.py.
check: deps
	$(MAKE) $(BIN)/pangu $(BIN)/pangu-tests
	OMP_NUM_THREADS=2 $(BIN)/pangu-tests
	tests/cli_test.sh $(BIN)/pangu
	tests/regrid_cdo_test.sh $(BIN)/pangu
	tests/forecast_test.sh $(BIN)/pangu
	tests/data_test.sh $(BIN)/pangu
	tests/train_test.sh $(BIN)/pangu
	tests/synth_test.sh $(BIN)/pangu
	tests/eval_test.sh $(BIN)/pangu
	tests/fetch_test.sh $(BIN)/pangu
	tests/chain_test.sh $(BIN)/pangu
test: check

# The build without libcurl: pangu fetch says it has no network access.
nocurl-check: deps
	$(MAKE) CURL=0 bin-nocurl/pangu
	bin-nocurl/pangu fetch --source gfs --time 2026-12-01 --out /tmp/pangu-nocurl 2>&1 | grep -q "built without network access"
	@echo "nocurl: pangu fetch says it was built without network access"

SAN_FLAGS = -O1 -g -fno-omit-frame-pointer
asan: deps
	$(MAKE) BUILD=build-asan BIN=bin-asan OPT="$(SAN_FLAGS) -fsanitize=address,undefined" \
	  bin-asan/pangu bin-asan/pangu-tests
	ASAN_OPTIONS=detect_leaks=0 OMP_NUM_THREADS=2 bin-asan/pangu-tests
	ASAN_OPTIONS=detect_leaks=0 tests/cli_test.sh bin-asan/pangu
	ASAN_OPTIONS=detect_leaks=0 tests/forecast_test.sh bin-asan/pangu
	ASAN_OPTIONS=detect_leaks=0 tests/data_test.sh bin-asan/pangu
	ASAN_OPTIONS=detect_leaks=0 tests/fetch_test.sh bin-asan/pangu
ubsan: deps
	$(MAKE) BUILD=build-ubsan BIN=bin-ubsan OPT="$(SAN_FLAGS) -fsanitize=undefined -fno-sanitize-recover=undefined" \
	  bin-ubsan/pangu bin-ubsan/pangu-tests
	OMP_NUM_THREADS=2 bin-ubsan/pangu-tests
	tests/cli_test.sh bin-ubsan/pangu
	tests/forecast_test.sh bin-ubsan/pangu
	tests/data_test.sh bin-ubsan/pangu
	tests/fetch_test.sh bin-ubsan/pangu

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
	@./.ci/deps.sh notebooks
	@[ -s $(NB_OUT)/scores.csv ] || [ "$(NB_OUT)" != out/demo ] || $(MAKE) demo
	notebooks-export/run.sh $(NB_OUT)

# Retrain the shipped demo models (minutes each on 2 cores).
demo-models: deps
	$(MAKE) $(BIN)/pangu
	configs/demo/train.sh $(BIN)/pangu

# Regenerate the committed fixtures (needs the PyTorch reference).
fixtures:
	./.ci/deps.sh reference
	tests/make_fixtures.sh

# Forecasts across processes: outputs of mpirun -np 2 equal a one-process run.
mpi-check: deps
	./.ci/deps.sh mpi
	$(MAKE) MPI=1 bin-mpi/pangu
	tests/mpi_test.sh bin-mpi/pangu

# libFuzzer (clang from Debian) on the parsers: 60 s each.
FUZZ_SEC ?= 60
fuzz: deps
	./.ci/deps.sh fuzz
	@mkdir -p bin-fuzz out/fuzz/npy out/fuzz/cfg
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I. io/npy.c util/util.c tests/fuzz_npy.c -lm -o bin-fuzz/fuzz_npy
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I. configs/cfg.c util/util.c tests/fuzz_cfg.c -linih -lm -o bin-fuzz/fuzz_cfg
	printf '\x93NUMPY\x01\x00v\x00{"descr": "<f4", "fortran_order": False, "shape": (5, 13, 721, 1440), }' >out/fuzz/npy/seed
	printf '[a]\nx = 2\nmodel_24h = m.h5\n[b]\ny = 3\n' >out/fuzz/cfg/seed
	bin-fuzz/fuzz_npy -max_total_time=$(FUZZ_SEC) out/fuzz/npy
	bin-fuzz/fuzz_cfg -max_total_time=$(FUZZ_SEC) out/fuzz/cfg

clean:
	rm -rf bin-fuzz build build-asan build-ubsan build-mpi build-nocurl bin bin-asan bin-ubsan bin-mpi bin-nocurl out
