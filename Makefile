# logscan: `make demo` runs the main job on the bundled sample, `make test` runs the tests.
GO        ?= go
BIN       ?= bin/logscan
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BENCH_DIR ?= /tmp/logscan-bench
BENCH_SIZE ?= 2GB
# The yardstick of make bench-compare (CI keeps a copy beside the clone).
SHARED_BENCH ?= ../shared/bench
BENCH_PAIRS ?= 0
BENCH_INCIDENTS ?= -botnet 1600 -auth -compromise -more-incidents -connectivity
# make bench-compare measures a 1 GB organisation (0.6 GB of it receive
# logs, what DuckDB reads) unless BENCH_SIZE is given: BENCH_SIZE=4GB is the
# peak-RSS run.
COMPARE_SIZE = $(if $(filter file,$(origin BENCH_SIZE)),1GB,$(BENCH_SIZE))
FUZZTIME  ?= 5m

.PHONY: build test test-short check-real-clixml demo bench bench-compare cross fuzz samples clean duckdb-check report

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/logscan

# The fuzz targets run briefly on every test run (CI included); make fuzz
# runs them for FUZZTIME each.
test:
	$(GO) vet ./...
	$(GO) test ./...
	$(GO) test ./parser -run '^$$' -fuzz FuzzParse -fuzztime 15s -fuzzminimizetime 5s
	$(GO) test ./parser -run '^$$' -fuzz FuzzSplitters -fuzztime 10s -fuzzminimizetime 5s
	$(GO) test ./heuristics -run '^$$' -fuzz FuzzSessions -fuzztime 15s -fuzzminimizetime 5s

# The quick tier: everything but the slowest end-to-end tests and the fuzzers.
test-short:
	$(GO) vet ./...
	$(GO) test -short ./...

demo: build
	./$(BIN) scan samples/contoso

# The HTML report of the sample, and its screenshot in headless Chromium
# (the browser test takes it; the README shows it).
report: build
	./$(BIN) scan --quiet --format html -o samples/report.html samples/contoso
	LOGSCAN_SCREENSHOT=$(CURDIR)/docs/report.png $(GO) test ./cmd/logscan -run '^TestReportInBrowser$$' -count 1

# Parser throughput on one core and the whole scan (parse, sessions,
# detectors, report) on two cores, both in MB/s from go test -bench over
# 188 MB of generated logs; then the real binary on a $(BENCH_SIZE) generated
# folder on every core, with its peak memory. Every corpus has every
# incident in it, so that every detector has work (BENCH_INCIDENTS).
bench: build
	$(GO) test ./parser -run '^$$' -bench . -benchmem -benchtime 5x -cpu 1
	$(GO) test ./cmd/logscan -run '^$$' -bench 'Scan|Ingest|Clients|Coverage' -benchmem -benchtime 3x -cpu 2
	@test -f $(BENCH_DIR).done-$(BENCH_SIZE)-incidents || { rm -rf $(BENCH_DIR) $(BENCH_DIR).done-* && \
		$(GO) run ./samples/generate -out $(BENCH_DIR) -size $(BENCH_SIZE) -scale 6 -seed 2 $(BENCH_INCIDENTS) && \
		touch $(BENCH_DIR).done-$(BENCH_SIZE)-incidents; }
	$(GO) run ./tools/peakrss -- ./$(BIN) scan --timing $(BENCH_DIR) > /dev/null
	$(GO) run ./tools/peakrss -- ./$(BIN) clients --timing $(BENCH_DIR) > /dev/null
	rm -rf $(BENCH_DIR)-dataset
	$(GO) run ./tools/peakrss -- ./$(BIN) ingest --out $(BENCH_DIR)-dataset $(BENCH_DIR)
	rm -rf $(BENCH_DIR)-dataset

# logscan's full scan against DuckDB's one relay query over the same
# receive logs ($(SHARED_BENCH)/README.md): alternating pairs with warm
# cache, median ratio, wall, CPU and peak RSS of each side. The organisation
# is generated once into /tmp/logscan-bench-compare.
bench-compare: build
	test -d tools/duckdb-bench/node_modules/@duckdb/node-api || (cd tools/duckdb-bench && npm ci --no-audit --no-fund --silent)
	$(GO) run ./tools/benchcompare -logscan ./$(BIN) -script $(SHARED_BENCH)/duckdb-relay.mjs -node-dir tools/duckdb-bench \
		-size $(COMPARE_SIZE) -pairs $(BENCH_PAIRS)

cross:
	GOOS=linux   GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/logscan-linux-amd64 ./cmd/logscan
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/logscan-windows-amd64.exe ./cmd/logscan
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

fuzz:
	$(GO) test ./parser -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./parser -run '^$$' -fuzz FuzzSplitters -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./heuristics -run '^$$' -fuzz FuzzSessions -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./heuristics/inventory -run '^$$' -fuzz FuzzInventory -fuzztime $(FUZZTIME) -fuzzminimizetime 10s

# Rewrites the committed sample; TestCommittedSample checks it matches.
samples:
	rm -rf samples/contoso
	$(GO) run ./samples/generate -out samples/contoso -scale 0.1 -seed 1 -live-tail -connectivity -auth -compromise -accounts 25

# Opens the sample's dataset with DuckDB (from the npm registry), an
# independent Parquet reader, and runs the README's example queries.
duckdb-check: build
	rm -rf /tmp/logscan-duckdb-ds
	./$(BIN) ingest --out /tmp/logscan-duckdb-ds samples/contoso
	cd tools/duckdb-check && npm install --no-audit --no-fund --silent && node check.mjs /tmp/logscan-duckdb-ds

# The connector-config reader against a real Exchange 2019 Export-Clixml
# (microsoft/CSS-Exchange, MIT), which lives in ../shared/realdata and is
# not committed here: fails when it is absent.
check-real-clixml:
	$(GO) test -tags realclixml ./heuristics/exconfig -run TestRealClixml -v

clean:
	rm -rf bin dist
