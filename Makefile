# bmx - the entry point.
#   make            build build/bmx, build/libbmx.a, build/libbmx.so
#   make test       build and run every test (tests/run.sh prints the closing summary)
#   make bench      build and run every benchmark under bench/
#   make demo       the main job on the built-in default
#   make deps       install the Debian/npm packages bmx needs (scripts/install-deps.sh)
#   make SAN=1 ...  the same in build-san/, with AddressSanitizer and UBSan
#   make fuzz       build the libFuzzer targets (tests/fuzz/, clang, ASan+UBSan) in build-fuzz/
#                   and run each FUZZ_SECONDS (default 60) from its seed corpus
#   make format     clang-format every C file in place

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
LDLIBS  += -fopenmp -lopenblas -lm -lpthread
LDFLAGS += $(SANLD)

LIB_SRC   := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC   := $(wildcard src/cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test bench demo deps format clean fuzz fuzz-build fuzz-seeds
all: $(BUILD)/bmx $(BUILD)/libbmx.a $(BUILD)/libbmx.so

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libbmx.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libbmx.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bmx: $(CLI_OBJ) $(BUILD)/libbmx.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libbmx.a tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libbmx.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libbmx.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libbmx.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/.deps-ok: scripts/install-deps.sh scripts/deps-apt.txt scripts/deps-npm.txt
	@mkdir -p $(BUILD)
	bash scripts/install-deps.sh
	@touch $@

deps: $(BUILD)/.deps-ok

test: $(BUILD)/.deps-ok all $(TEST_BIN)
	bash tests/run.sh $(BUILD)

bench: $(BUILD)/.deps-ok all $(BENCH_BIN)
	bash bench/run.sh $(BUILD)

demo: $(BUILD)/.deps-ok all
	bash scripts/demo.sh $(BUILD)

# ---- fuzzing: every library source again, built by clang with coverage for libFuzzer ----
FUZZ_CC      ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     = -fsanitize=address,undefined,float-cast-overflow \
               -fno-sanitize-recover=undefined,float-cast-overflow
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(ARCH) $(WARN) \
               -fopenmp=libgomp -Iinclude -MMD -MP
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libbmx.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libbmx.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_BUILD)/libbmx.a \
		-fopenmp=libgomp -lopenblas -lm -lpthread

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
