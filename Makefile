# make test: the whole suite, installing what it needs first.
# make serve: run the gateway on the embedded default.

GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test deps lint unit e2e hostile fuzz serve build release

test: deps lint unit e2e fuzz

deps:
	@bash scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# make unit: the package tests, no browser, nginx, Redis, Docker build or
# binary (about a minute). make e2e: the built binary (built once) and
# the README, the browser, nginx and Redis tests, the
# deployment files. Together they run every test once.
E2E_TESTS = Browser|Dashboard|ThePage|Redis|Replicas|Kubernetes|Compose|Dockerfile
E2E_PACKAGES = ./cmd/highway ./internal/shared
PACKAGES = $(shell $(GO) list ./... | grep -v -e /cmd/highway$$ -e /internal/shared$$)

unit:
	$(GO) test -race -count=1 -timeout 5m -skip '$(E2E_TESTS)' $(PACKAGES)

e2e:
	$(GO) test -race -count=1 -timeout 8m -run '$(E2E_TESTS)' $(PACKAGES)
	$(GO) test -race -count=1 -timeout 10m $(E2E_PACKAGES)

# The hostile suite alone (make unit runs it too): attacks on a real
# highway serve over real sockets, each bounded to a few seconds.
hostile:
	$(GO) test -race -count=1 -timeout 3m -run Hostile ./...

# Short fuzz runs of the parsers and encoders, bounded by a count of
# executions rather than a duration: Go 1.26's coordinator can report a
# spurious "context deadline exceeded" when a duration -fuzztime expires
# while a starved worker is mid-call (golang/go#75804, fixed in Go 1.27).
# A count has no deadline to race; -timeout still bounds a stuck run.
FUZZ = $(GO) test -run='^$$' -timeout=3m

fuzz:
	$(FUZZ) -fuzz='^FuzzParse$$' -fuzztime=50000x ./internal/config
	$(FUZZ) -fuzz=FuzzRatioAndHedgeDelay -fuzztime=150000x ./internal/config
	$(FUZZ) -fuzz=FuzzAppendString -fuzztime=20000x ./internal/report
	$(FUZZ) -fuzz=FuzzFaultQuery -fuzztime=100000x ./internal/mock
	$(FUZZ) -fuzz=FuzzConversation -fuzztime=50000x ./internal/mock
	$(FUZZ) -fuzz=FuzzWriterReaderRoundTrip -fuzztime=150000x ./internal/sse
	$(FUZZ) -fuzz=FuzzTemplatedURLStaysOnItsHostAndSegment -fuzztime=100000x ./source
	$(FUZZ) -fuzz=FuzzNeedValuesStayInTheirPlace -fuzztime=60000x ./internal/template
	$(FUZZ) -fuzz=FuzzCallKey -fuzztime=8000x ./source
	$(FUZZ) -fuzz=FuzzRouteQuery -fuzztime=60000x ./internal/route
	$(FUZZ) -fuzz=FuzzRequest -fuzztime=100000x ./internal/wire
	$(FUZZ) -fuzz=FuzzStream -fuzztime=100000x ./internal/wire
	$(FUZZ) -fuzz=FuzzLinesAreAScannersLines -fuzztime=100000x ./source

serve:
	$(GO) run ./cmd/highway serve

# Version stamps for highway version: the tag (or the commit), the commit,
# the build's UTC time.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS = -s -w -X github.com/citypopy/highway/internal/cli.buildVersion=$(VERSION) \
	-X github.com/citypopy/highway/internal/cli.buildCommit=$(COMMIT) \
	-X github.com/citypopy/highway/internal/cli.buildDate=$(DATE)
PLATFORMS = linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o highway ./cmd/highway

# make release: static binaries for every platform in dist/, with their
# SHA-256 sums in dist/SHA256SUMS.
release:
	@rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/highway-$(VERSION)-$$os-$$arch; \
	  echo "building $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/highway || exit 1; \
	done
	@cd dist && sha256sum highway-* > SHA256SUMS && cat SHA256SUMS
