# bmx - the entry point.
#   make            build build/bmx, build/libbmx.a, build/libbmx.so, and the mixing
#                   policies alone: build/libbmx_mix.{a,so} (mix + rng + core, libc and libm
#                   only; headers bmx/core.h, bmx/rng.h, bmx/mix.h; python/bmx loads it)
#   make test       build and run every test (tests/run.sh prints the closing summary)
#   make test-stress  the whole suite N times (N=20) with a CPU hog on every core (not in CI)
#   make bench      build and run every benchmark under bench/
#   make demo       the main job on the built-in default
#   make deps       install the Debian/npm packages bmx needs (scripts/install-deps.sh)
#   make SAN=1 ...  the same in build-san/, with AddressSanitizer and UBSan
#   make fuzz       build the libFuzzer targets (tests/fuzz/, clang, ASan+UBSan) in build-fuzz/
#                   and run each FUZZ_SECONDS (default 60) from its seed corpus
#   make format     clang-format every C file in place
#   make CUDA=1     also build the CUDA trainer (src/cuda/*.cu with nvcc); automatic when nvcc
#                   is on PATH or in /usr/local/cuda/bin, never with SAN=1; CUDA=0 builds the
#                   no-CUDA stub (src/cuda/stub.c) instead
#   make MPI=1      build with MPI (data-parallel runs under mpirun, bmx/dist.h); automatic when
#                   mpicc is on PATH; MPI=0 builds the one-process group only

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
           -fno-sanitize-recover=undefined,float-cast-overflow
SANLD   = -fsanitize=address,undefined,float-cast-overflow
else
BUILD   ?= build
OPT     ?= -O2 -g
SANLD   =
endif
ARCH    ?= -march=x86-64-v2
WARN    = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) $(WARN) -fPIC -fopenmp -Iinclude -MMD -MP
LDLIBS  += -fopenmp -lopenblas -lzstd -lz -lm -lpthread
LDFLAGS += $(SANLD)

# CUDA: nvcc on PATH or in /usr/local/cuda/bin; the sanitizer build never uses it.
NVCC    ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA    ?= $(if $(NVCC),1,0)
ifeq ($(SAN),1)
override CUDA := 0
endif
ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but no nvcc on PATH or in /usr/local/cuda/bin: install the CUDA toolkit or build with CUDA=0)
endif
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(realpath $(NVCC))))
NVFLAGS   ?= -O3 -std=c++17 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVFLAGS   += -Xcompiler -fPIC -Xcompiler -Wall -DBMX_WITH_CUDA -D_GNU_SOURCE -Iinclude -MMD -MP
CFLAGS    += -DBMX_WITH_CUDA
LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
endif

# MPI: mpicc on PATH (Debian: libopenmpi-dev); its compile and link flags, with our CC.
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
MPI     ?= $(if $(MPICC),1,0)
ifeq ($(MPI),1)
ifeq ($(MPICC),)
$(error MPI=1 but no mpicc on PATH: install libopenmpi-dev (make deps) or build with MPI=0)
endif
CFLAGS    += -DBMX_WITH_MPI $(patsubst -I%,-isystem %,$(shell $(MPICC) --showme:compile))
LDLIBS    += $(shell $(MPICC) --showme:link)
endif

LIB_SRC   := $(filter-out src/cli/%,$(wildcard src/*/*.c))
ifeq ($(CUDA),1)
LIB_SRC   := $(filter-out src/cuda/stub.c,$(LIB_SRC))
CU_SRC    := $(wildcard src/cuda/*.cu)
else
CU_SRC    :=
endif
MIX_SRC   := $(wildcard src/mix/*.c src/rng/*.c src/core/*.c)
CLI_SRC   := $(wildcard src/cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
MIX_OBJ   := $(MIX_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-stress bench demo experiment experiment-flad deps format clean fuzz fuzz-build fuzz-seeds
all: $(BUILD)/bmx $(BUILD)/libbmx.a $(BUILD)/libbmx.so $(BUILD)/libbmx_mix.a $(BUILD)/libbmx_mix.so

# a switch between CUDA=0 and CUDA=1 (or MPI=0 and MPI=1) rebuilds every object (stale stubs or defines otherwise)
CONF_STAMP := $(BUILD)/.cuda$(CUDA)-mpi$(MPI)
$(CONF_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.cuda0 $(BUILD)/.cuda1 $(BUILD)/.cuda*-mpi*
	@touch $@

$(BUILD)/obj/%.o: %.c $(CONF_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(CONF_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@

$(BUILD)/libbmx.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libbmx.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the mixing policies on their own: no BLAS, no OpenMP, no other bmx module (a test checks)
$(BUILD)/libbmx_mix.a: $(MIX_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libbmx_mix.so: $(MIX_OBJ) src/mix/libbmx_mix.map
	$(CC) -shared $(LDFLAGS) -Wl,--no-undefined -Wl,--version-script=src/mix/libbmx_mix.map -o $@ $(MIX_OBJ) -lm

$(BUILD)/bmx: $(CLI_OBJ) $(BUILD)/libbmx.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libbmx.a $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libbmx.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libbmx.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libbmx.a $(LDFLAGS) $(LDLIBS)

# bench_jval measures bmx_jval against Debian's JSON libraries when their -dev packages are
# installed (libcjson-dev, libjansson-dev; bench/RESULTS.md): the library does not use them
$(BUILD)/bench/bench_jval: CFLAGS += $(if $(wildcard /usr/include/cjson/cJSON.h),-DBMX_HAVE_CJSON) \
                                     $(if $(wildcard /usr/include/jansson.h),-DBMX_HAVE_JANSSON)
$(BUILD)/bench/bench_jval: LDLIBS += $(if $(wildcard /usr/include/cjson/cJSON.h),-lcjson) \
                                     $(if $(wildcard /usr/include/jansson.h),-ljansson)

$(BUILD)/.deps-ok: scripts/install-deps.sh scripts/deps-apt.txt scripts/deps-npm.txt
	@mkdir -p $(BUILD)
	bash scripts/install-deps.sh
	@touch $@

deps: $(BUILD)/.deps-ok

test: $(BUILD)/.deps-ok all $(TEST_BIN)
	bash tests/run.sh $(BUILD)

test-stress: $(BUILD)/.deps-ok all $(TEST_BIN)
	bash scripts/test-stress.sh $(BUILD) $(N)

bench: $(BUILD)/.deps-ok all $(BENCH_BIN)
	bash bench/run.sh $(BUILD)

demo: $(BUILD)/.deps-ok all
	bash scripts/demo.sh $(BUILD)

# the CPU study of issue 16 (docs/EXPERIMENTS.md): hours on 2 cores; run again to resume
experiment: $(BUILD)/.deps-ok all
	bash scripts/experiment.sh $(BUILD)

# the FLAD study of issue 16 from a base checkpoint (make experiment-flad BASE=CKPT); hours
# on 2 cores; run again to resume
experiment-flad: all
	bash experiments/flad.sh $(BASE) $(BUILD)

# ---- fuzzing: every library source again, built by clang with coverage for libFuzzer ----
FUZZ_CC      ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     = -fsanitize=address,undefined,float-cast-overflow \
               -fno-sanitize-recover=undefined,float-cast-overflow
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(ARCH) $(WARN) \
               -fopenmp=libgomp -Iinclude -MMD -MP
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
# the library as a plain build has it without CUDA or MPI: the no-CUDA stub, no BMX_WITH_*
FUZZ_LIB     := $(filter-out src/cli/%,$(wildcard src/*/*.c))
FUZZ_OBJ     := $(FUZZ_LIB:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libbmx.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libbmx.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_BUILD)/libbmx.a \
		-fopenmp=libgomp -lopenblas -lzstd -lz -lm -lpthread

fuzz-build: $(FUZZ_BIN)

# the binary seeds of tests/fuzz/corpus, written by the library's own writers
fuzz-seeds: $(BUILD)/libbmx.a
	$(CC) $(CFLAGS) -o $(BUILD)/make_seeds tests/fuzz/make_seeds.c $(BUILD)/libbmx.a $(LDFLAGS) $(LDLIBS)
	mkdir -p $(addprefix tests/fuzz/corpus/,mixstate shard vocab checkpoint task config)
	$(BUILD)/make_seeds tests/fuzz/corpus

fuzz: $(BUILD)/.deps-ok fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h include/bmx/*.h tests/*.c tests/*.h bench/*.c \
		tests/fuzz/*.c tests/fuzz/*.h)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
