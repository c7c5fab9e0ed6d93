# The README's test command is `make test`: it installs what it needs and
# runs everything, integration tests against real corosync daemons included.
GO ?= go
STATICCHECK := $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)

.PHONY: test goodbyes deps daemons lint cross unit integration oracle oracle-matrix test-matrix bench bench-matrix soak fuzz monitoring dist sample-scrape

# Most real-daemon tests wait on daemons (restarts, token timeouts,
# formation), so the test runs use more packages at once than the 2 cores:
# about a third of the CPU was busy at the default -p 2. The race run, the
# heaviest, takes -p $(RACE_P); the others -p $(TEST_P). The race run makes
# 100 goodbye cycles (race coverage of those paths); the goodbyes step then
# makes the full measure, 300 cycles, without -race, beside the
# differential tests.
RACE_P ?= 3
TEST_P ?= 4
test: deps daemons lint cross monitoring
	CGO_ENABLED=0 $(GO) build ./...
	COROSYNC_GO_INTEGRATION=require COROSYNC_GO_CYCLES=100 $(GO) test -race -p $(RACE_P) -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory -j2 goodbyes oracle
	$(MAKE) --no-print-directory oracle-matrix
	$(MAKE) --no-print-directory test-matrix

# The differential tests against the system's C client libraries.
oracle: daemons
	COROSYNC_GO_INTEGRATION=require $(GO) test -p $(TEST_P) -count=1 -tags oracle -timeout 30m ./internal/testkit/oracle/...

# The goodbye measure on the system daemon (issue "leave no trace"): 300
# Join+Leave, Join+Close and abandoned-handshake cycles of cpg, and 300
# Dial/Close cycles of every service's client, with no error line in any
# daemon's log.
goodbyes: daemons
	COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -timeout 15m -run '^TestReal$$/^goodbyes$$' ./cpg/
	COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -timeout 15m -run '^TestGoodbyes$$' ./internal/testkit/stress/

# The builds of scripts/build-daemons.sh; with the system's corosync they
# are the version matrix.
MATRIX_BUILDS := 2.4.6 3.0.4 3.1.10 main 3.1.10-qb1.0.3
DAEMON_CACHE = $${COROSYNC_GO_CACHE:-/var/cache/corosync-go}/daemons

# Against each built daemon, the differential test against that daemon's
# own C client libraries (the oracle is compiled against its prefix; the
# system daemon's run is part of the oracle step of `test`).
oracle-matrix: daemons
	for d in $(MATRIX_BUILDS); do p=$(DAEMON_CACHE)/$$d; echo "== oracle against corosync $$d"; \
	  COROSYNC_GO_DAEMON=$$d CGO_CFLAGS="-I$$p/include" CGO_LDFLAGS="-L$$p/lib -Wl,-rpath,$$p/lib" \
	  COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -tags oracle -timeout 10m ./internal/testkit/oracle/matrixoracle/ || exit 1; done

# The services' real-daemon tests against each built daemon (the system
# daemon's run is the race run of `test`). Packages that iterate over every
# daemon themselves (internal/testkit/matrix, cmd/...) are not repeated here.
# To keep `make test` under 30 minutes on 2 cores, tests whose subject does
# not change with the daemon's version skip themselves on most builds
# (corotest.Sparse, saying so): the stream conformance suite runs on the
# system daemon and 2.4.6; votequorum's restart and tie-breaker, downscale
# and last-man-standing WhatIf tests on the system daemon only (reconnects
# are covered by TestReal and TestQdevice on every build, and votequorum's
# decision code is the same from 2.4.6 to main). The stress tests run on
# 2.4.6 and the newest release; the goodbye tests make 100 cycles per build
# here (COROSYNC_GO_CYCLES) against 300 on the system daemon.
MATRIX_PKGS := ./quorum/ ./votequorum/ ./cfg/ ./cmap/ ./cpg/
MATRIX_STRESS := 2.4.6 3.1.10
test-matrix: daemons
	for d in $(MATRIX_BUILDS); do echo "== real-daemon tests against corosync $$d"; \
	  stress=; case " $(MATRIX_STRESS) " in *" $$d "*) stress=./internal/testkit/stress/;; esac; \
	  COROSYNC_GO_DAEMON=$$d COROSYNC_GO_CYCLES=100 COROSYNC_GO_INTEGRATION=require $(GO) test -p $(TEST_P) -count=1 -timeout 15m $(MATRIX_PKGS) $$stress || exit 1; done

# Each service's calls against the daemon's own C library, same run, per
# daemon (BENCHMARKS.md).
bench-matrix: daemons
	for d in system $(MATRIX_BUILDS); do p=$(DAEMON_CACHE)/$$d; echo "== corosync $$d"; \
	  if [ $$d = system ]; then f=; l=; else f="-I$$p/include"; l="-L$$p/lib -Wl,-rpath,$$p/lib"; fi; \
	  COROSYNC_GO_DAEMON=$$d CGO_CFLAGS="$$f" CGO_LDFLAGS="$$l" \
	  COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -tags oracle -run '^$$' -bench Calls -benchmem ./internal/testkit/oracle/matrixoracle/ || exit 1; done

deps:
	./scripts/install-deps.sh

# The version matrix of corosync daemons (internal/testkit/corotest; pick one with
# COROSYNC_GO_DAEMON=<name>): built once into /var/cache/corosync-go, a
# rerun is a no-op.
daemons: deps
	./scripts/build-daemons.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags oracle ./...
	$(STATICCHECK) ./...

# The module builds and vets on systems without corosync (dialing fails there
# with CS_ERR_NOT_SUPPORTED), and the tests users run against mock compile.
cross:
	for os in darwin windows freebsd; do \
	  GOOS=$$os CGO_ENABLED=0 $(GO) build ./... || exit 1; \
	  GOOS=$$os CGO_ENABLED=0 $(GO) vet ./... || exit 1; \
	  GOOS=$$os CGO_ENABLED=0 $(GO) test -c -o /dev/null ./mock/ || exit 1; \
	  GOOS=$$os CGO_ENABLED=0 $(GO) test -c -o /dev/null . || exit 1; \
	done

# Unit, mock and fake-server tests only: no daemon, no root (-short makes
# every real-daemon test skip, saying so).
unit:
	$(GO) test -race -count=1 -short ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./dispatch/
	COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -tags oracle -run '^$$' -bench . ./internal/testkit/oracle/

FUZZ_PKGS := ./internal/wire/ ./internal/wire/vqwire/ ./internal/wire/cfgwire/ ./internal/wire/cmapwire/ ./internal/wire/cpgwire/

fuzz:
	for p in $(FUZZ_PKGS); do for f in FuzzDecodeEvent FuzzDecodeResponse FuzzDecodeRequest; do \
	  [ -d $$p ] || continue; \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$p || exit 1; done; done
	$(GO) test -run '^$$' -fuzz '^FuzzRingRead$$' -fuzztime 30s ./transport/

# Opt-in soak: 100 daemon restarts (alternating kill -9 and SIGTERM) under a
# client with subscribers; prints recovery p50/p99 and checks for leaks.
# Then the stress soak (internal/testkit/stress): four 20 s rounds of the issue-20
# abuse with 400 MiB of cpg each, a kill -9 and a partition under load.
soak: deps
	COROSYNC_GO_INTEGRATION=require COROSYNC_GO_SOAK=1 $(GO) test -count=1 -run 'TestSoak$$' -v -timeout 60m ./quorum/ ./votequorum/ 2>&1 | tee soak.log | grep -E 'restarts|^(---|ok|FAIL)'
	COROSYNC_GO_INTEGRATION=require COROSYNC_GO_SOAK=1 $(GO) test -count=1 -run 'TestStress$$' -v -timeout 60m ./internal/testkit/stress/ 2>&1 | tee -a soak.log | grep -E 'flood round|in flight|caused by a client|left in|RSS|unexpected|^(---|ok|FAIL)'

# The exporter's Prometheus alert rules: promtool's syntax check and their
# unit tests (cmd/corosync-exporter/monitoring/alerts_test.yml).
# TestPrometheusAlerts loads them into a real Prometheus in make test.
monitoring: deps
	cd cmd/corosync-exporter/monitoring && promtool check rules alerts.yml && promtool test rules alerts_test.yml

# Release binaries: static (CGO_ENABLED=0) corosync-exporter and quorumwatch
# for linux/amd64 and linux/arm64, with the version (git describe) and
# commit stamped for --version, and a tarball per platform with the
# packaging (systemd unit, user, corosync uidgid snippet) and the alert
# rules and dashboard. VERSION and REVISION may be given.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
DIST_ARCHS := amd64 arm64
BUILDINFO := github.com/corosync-go/corosync/internal/buildinfo
dist:
	rm -rf dist && mkdir -p dist
	for arch in $(DIST_ARCHS); do d=dist/corosync-exporter-$(VERSION).linux-$$arch; mkdir -p $$d; \
	  for cmd in corosync-exporter quorumwatch; do \
	    CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=false \
	      -ldflags "-s -w -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).revision=$(REVISION)" \
	      -o $$d/$$cmd ./cmd/$$cmd || exit 1; done; \
	  cp -r packaging $$d/ && cp -r cmd/corosync-exporter/monitoring $$d/ && cp LICENSE cmd/corosync-exporter/README.md $$d/; \
	  tar -C dist -czf $$d.tar.gz $$(basename $$d) || exit 1; done
	cd dist && sha256sum *.tar.gz > SHA256SUMS

# Rewrites the sample scrape in cmd/corosync-exporter/README.md from a real
# scrape (TestREADMESample checks it in make test).
sample-scrape: deps
	COROSYNC_GO_UPDATE_README=1 COROSYNC_GO_INTEGRATION=require $(GO) test -count=1 -run '^TestREADMESample$$' ./cmd/corosync-exporter/
