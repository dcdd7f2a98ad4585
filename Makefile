# symdist: make help lists the targets.
SHELL   := /bin/bash
GO      ?= go
# No VCS stamp: a build must not depend on what git says of the checkout
# (a clone owned by another user makes git refuse, and go build with it).
export GOFLAGS += -buildvcs=false
P4FLAGS ?= --arch v1model --std p4-16

.PHONY: help build test demo toolchain lab mininet ptf p4 tofino fmt lint bench bench-switch fuzz vectors

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/symdist
	$(GO) build -o bin/symdist ./cmd/symdist

# make test reads go test -json through tools/testreport: the usual lines,
# each skip with its reason, and at the end the skips grouped by reason and
# one line "tests: N passed, N failed, N skipped".
TESTREPORT = bin/testreport

test: ## run every test; those needing root, bmv2, p4c or Mininet skip with the reason where those are missing
	$(GO) vet ./...
	@mkdir -p out bin && rm -f out/test-*.jsonl
	$(GO) build -o $(TESTREPORT) ./tools/testreport
	@# The tests that move real packets (network namespaces, bmv2 and the
	@# software switch on veths) run one package at a time (-p 1): beside
	@# each other on a 2-core machine they starve bmv2 and time out TCP connects.
	@set -o pipefail; status=0; \
	echo "go test -count=1 -timeout 30m (every package but the three below)"; \
	$(GO) test -json -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e /lab$$ -e /test/conformance$$ -e /verify$$) 2>&1 \
		| $(TESTREPORT) --save out/test-1.jsonl || status=1; \
	echo "go test -count=1 -timeout 30m -p 1 ./test/conformance ./verify ./lab"; \
	$(GO) test -json -count=1 -timeout 30m -p 1 ./test/conformance ./verify ./lab 2>&1 \
		| $(TESTREPORT) --save out/test-2.jsonl || status=1; \
	$(TESTREPORT) --summary out/test-1.jsonl out/test-2.jsonl || status=1; \
	exit $$status

demo: ## run the demo on the built-in software switch (no root, no bmv2)
	$(GO) run ./cmd/symdist demo

# Where make toolchain installs the P4 tools, and where the tests, make p4,
# make ptf and make mininet look for them before PATH.
PREFIX  ?= /opt/p4
export SYMDIST_P4_PREFIX := $(PREFIX)
P4C     ?= $(firstword $(wildcard $(PREFIX)/bin/p4c-bm2-ss) p4c-bm2-ss)

toolchain: ## build and install bmv2, PI, p4c and PTF at pinned versions into PREFIX (default /opt/p4; root; 1-2 h on 2 cores; P4_SRC=DIR: local clones or mirrors; TOFINO=1 adds p4c's Tofino back end and its assembler bfas)
	PREFIX=$(PREFIX) tools/toolchain/install.sh

lab: ## build the figure-3 lab in network namespaces (root) and keep it up until Ctrl-C
	$(GO) build -o bin/symdist ./cmd/symdist
	./bin/symdist lab

SWITCH ?= bmv2

# Debian's mininet is importable by /usr/bin/python3, not by a pyenv or venv python3.
MININET_PY := $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

mininet: ## figure 3 (or CONFIG=FILE's deployment) in Mininet on bmv2, then its CLI (root, Debian's mininet; SWITCH=soft: the Go switch; MININET_ARGS=--test: the end-to-end test)
	$(MININET_PY) mininet/run.py --switch $(SWITCH) $(if $(CONFIG),--config $(CONFIG)) $(MININET_ARGS)

ptf: ## PTF tests of the P4 program on bmv2 (root, p4lang ptf; SWITCH=soft: the Go switch); says in one line what is missing
	ptf/run.sh --switch $(SWITCH)

p4: ## recompile p4src/symdist.p4 into p4info/ (needs p4c) and regenerate p4info/names_generated.go
	@command -v $(P4C) >/dev/null || { echo "make p4: $(P4C) not found in $(PREFIX)/bin or on PATH: run make toolchain"; exit 1; }
	$(P4C) $(P4FLAGS) -o p4info/symdist.json --p4runtime-files p4info/symdist.p4info.txtpb p4src/symdist.p4
	$(GO) generate ./p4info

# The Tofino back end of p4c (p4c-barefoot): P4C_TOFINO, else on PATH, else
# where make toolchain TOFINO=1 (PREFIXtofino) or docs/hardware.md installs it.
# Its assembler bfas and the SDE's conf writer p4c-gen-conf: beside it.
TOFINO_BINS   := $(strip $(PREFIX)tofino/bin $(filter-out $(PREFIX)tofino/bin,/opt/p4tofino/bin))
P4C_TOFINO    ?= $(firstword $(shell command -v p4c-barefoot 2>/dev/null) $(wildcard $(addsuffix /p4c-barefoot,$(TOFINO_BINS))))
BFAS          ?= $(firstword $(wildcard $(dir $(P4C_TOFINO))bfas) $(shell command -v bfas 2>/dev/null))
P4C_GEN_CONF  ?= $(firstword $(wildcard $(dir $(P4C_TOFINO))p4c-gen-conf) $(shell command -v p4c-gen-conf 2>/dev/null))
TOFINO_TARGET ?= tofino
TOFINO_OUT    ?= out/tofino/$(TOFINO_TARGET)
# Where the .conf says the files are: the SDE's install layout
# (share/tofinopd/symdist/pipe/tofino.bin); devconfig.LoadTofino also finds
# them beside the .conf.
TOFINO_SHARE  := share/$(TOFINO_TARGET)pd/symdist

tofino: ## compile p4src/symdist.p4 for Tofino and assemble it: out/tofino/TARGET/pipe/{TARGET.bin,context.json}, bf-rt.json, symdist.conf (git-ignored; P4C_TOFINO=p4c-barefoot, BFAS=bfas, TOFINO_TARGET=tofino2, TOFINO_DEFINES=-DBUCKET_TABLE_SIZE=N)
	@test -n "$(P4C_TOFINO)" || { echo "make tofino: p4c-barefoot (p4c's Tofino back end) not on PATH or in $(TOFINO_BINS); set P4C_TOFINO (docs/hardware.md)"; exit 1; }
	@test -n "$(BFAS)" || { echo "make tofino: bfas (the Tofino assembler) not beside $(P4C_TOFINO) nor on PATH; set BFAS (make toolchain TOFINO=1 builds it)"; exit 1; }
	@test -n "$(P4C_GEN_CONF)" || { echo "make tofino: p4c-gen-conf not beside $(P4C_TOFINO) nor on PATH; set P4C_GEN_CONF (make toolchain TOFINO=1 installs it)"; exit 1; }
	@mkdir -p $(TOFINO_OUT)
	$(P4C_TOFINO) --target $(TOFINO_TARGET) --arch v1model -g $(TOFINO_DEFINES) -o $(TOFINO_OUT) \
		--p4runtime-files $(TOFINO_OUT)/symdist.p4info.txtpb --bf-rt-schema $(TOFINO_OUT)/bf-rt.json \
		p4src/symdist.p4
	@# The assembler, as the SDE's bf-p4c driver runs it on each pipe.
	$(BFAS) --target $(TOFINO_TARGET) --table-handle-offset0 -o $(TOFINO_OUT)/pipe $(TOFINO_OUT)/pipe/symdist.bfa
	@# The .conf bf_switchd --conf-file and stratum_bfrt read, as the driver writes it.
	/usr/bin/python3 $(P4C_GEN_CONF) --conf-type BF-RT --name symdist --device $(TOFINO_TARGET) \
		--outputdir $(TOFINO_OUT) --installdir $(TOFINO_SHARE) --bfrt-name $(TOFINO_SHARE)/bf-rt.json \
		--p4-version p4-16 --pipe pipe
	@cd $(TOFINO_OUT) && ls -l pipe/$(TOFINO_TARGET).bin pipe/context.json bf-rt.json symdist.conf && \
		sha256sum pipe/$(TOFINO_TARGET).bin pipe/context.json bf-rt.json symdist.conf

vectors: ## regenerate test/vectors/ from vectors/cases.go and the fixture
	$(GO) test ./vectors -run TestFilesUpToDate -update

fmt: ## format the Go code
	gofmt -w .

lint: ## go vet, staticcheck (a go tool of this module); gofmt and go mod tidy must have nothing to change. The files behind the interop_client tag are vetted by TestCommunityClient, which builds the library they need
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@out=$$(gofmt -l .); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum not tidy (run go mod tidy):"; $(GO) mod tidy -diff; exit 1; }

bench: ## run the benchmarks recorded in docs/performance.md
	$(GO) test -run XXX -bench . -benchmem ./...

bench-switch: ## offered-load sweep through a Linux bridge, the software switch and bmv2 on veths (root, tcpreplay); BENCH_ARGS=--help
	$(GO) build -o bin/symdist ./cmd/symdist
	$(GO) run ./tools/bench/switchbench $(BENCH_ARGS)

fuzz: ## fuzz the model's parser for a minute
	$(GO) test ./swmodel -run XXX -fuzz FuzzProcess -fuzztime 60s
