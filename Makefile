# cco — build, test and install. `make help` lists the targets.
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -s -w -X github.com/anthropics/cco/version.Version=$(VERSION) -X github.com/anthropics/cco/version.Commit=$(COMMIT)
STATICCHECK_VERSION := v0.8.2
GOBIN       ?= $(shell $(GO) env GOPATH)/bin

.PHONY: all build test lint generate install uninstall clean help

all: build

build: ## Build ./cco
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o cco .

# make test also runs bounded rounds of the soak and fault suites (minutes,
# not hours); `make soak` and `make faults` run the long ones.
TEST_SOAK_CYCLES  ?= 60
TEST_SOAK_TIME    ?= 2m
TEST_SOAK_IDENTITY_TIME ?= 30s
TEST_FAULTS_ROUNDS ?= 20

test: ## Run every test (unit, golden, end-to-end, real validators), then bounded soak and fault rounds
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory soak SOAK_CYCLES=$(TEST_SOAK_CYCLES) SOAK_TIME=$(TEST_SOAK_TIME) SOAK_IDENTITY_TIME=$(TEST_SOAK_IDENTITY_TIME)
	$(MAKE) --no-print-directory faults FAULTS_ROUNDS=$(TEST_FAULTS_ROUNDS)

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags soak,faults ./...
	GOOS=darwin $(GO) vet ./...
	@# Every package's tests accept -update, so `go test ./... -update` works from the root.
	$(GO) test -count=1 -run '^$$' ./... -update >/dev/null
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q "$(STATICCHECK_VERSION:v%=%)" || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

generate: ## Regenerate completions/ and man/ from the command tree
	$(GO) generate ./...

# What install lays under $(DESTDIR): the paths distributions look in.
MAN1        := $(wildcard man/*.1)
MAN5        := $(wildcard man/*.5)
INSTALLED   := $(BINDIR)/cco \
	$(addprefix $(MANDIR)/man1/,$(notdir $(MAN1))) \
	$(addprefix $(MANDIR)/man5/,$(notdir $(MAN5))) \
	$(DATADIR)/bash-completion/completions/cco \
	$(DATADIR)/zsh/site-functions/_cco \
	$(DATADIR)/fish/vendor_completions.d/cco.fish \
	$(SYSTEMDUSERDIR)/cco-daemon.service

install: build ## Install cco, its man pages, completions and systemd user unit (PREFIX=/usr/local DESTDIR=)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d $(DESTDIR)$(SYSTEMDUSERDIR)
	install -m 755 cco $(DESTDIR)$(BINDIR)/cco
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 completions/cco.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/cco
	install -m 644 completions/_cco $(DESTDIR)$(DATADIR)/zsh/site-functions/_cco
	install -m 644 completions/cco.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/cco.fish
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		./cco daemon render --os linux --output "$$tmp" --exec $(BINDIR)/cco >/dev/null && \
		install -m 644 "$$tmp/cco-daemon.service" $(DESTDIR)$(SYSTEMDUSERDIR)/cco-daemon.service

uninstall: ## Remove what install installed (same PREFIX and DESTDIR)
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

clean: ## Remove build output
	rm -f cco

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# --- proof: side-by-side benchmarks, soak, fault injection, fuzzing --------
BENCH_N     ?= 30
BENCHCOUNT  ?= 6
SOAK_CYCLES ?= 1000
SOAK_TIME   ?= 5m
SOAK_IDENTITY_TIME ?=
FAULTS_ROUNDS ?=
FUZZTIME    ?= 30s

.PHONY: bench bench-go soak faults fuzz

bench: build ## Side by side with start-stop-daemon, systemd --user, supervisord, pm2, and the ledger with ccusage (root; installs peers; CCUSAGE_BIN names ccusage), then bench-go
	@command -v tini >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini)
	@mkdir -p bench/out
	$(GO) build -o bench/out/ccobench ./bench
	tini -s -- bench/out/ccobench -cco ./cco -n $(BENCH_N) -usage-daily -out bench/out/results.md
	$(MAKE) --no-print-directory bench-go

bench-go: ## Go benchmarks of every package, saved for benchstat in bench/out/go-bench.txt
	@mkdir -p bench/out
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./... | tee bench/out/go-bench.txt

# The suites run under `tini -s` where it is installed, so that orphans are
# reaped at once (.ci/run installs it).
TINI := $(shell command -v tini >/dev/null 2>&1 && echo tini -s --)

soak: build ## SOAK_CYCLES start/stop/restart cycles with kill -9 and concurrent status/logs, within SOAK_TIME
	CCO_BIN=$(CURDIR)/cco SOAK_CYCLES=$(SOAK_CYCLES) SOAK_TIME=$(SOAK_TIME) SOAK_IDENTITY_TIME=$(SOAK_IDENTITY_TIME) \
		$(TINI) $(GO) test -count=1 -tags soak -timeout 30m ./soak/

faults: build ## Fault injection (root): full, read-only and foreign CCO_HOME, SIGHUP reload, kill -9 mid-write, log dir removed, hostile files, exposure
	CCO_BIN=$(CURDIR)/cco FAULTS_ROUNDS=$(FAULTS_ROUNDS) $(TINI) $(GO) test -count=1 -tags faults -timeout 20m ./faults/

fuzz: ## Run every Fuzz target of every package for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t (-fuzztime $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
