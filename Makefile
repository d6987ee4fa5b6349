# make test: the whole suite, installing what it needs first.
# make serve: run the gateway on the embedded default.

GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test deps lint unit hostile fuzz serve build

test: deps lint unit fuzz

deps:
	@bash scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 8m ./...

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
	$(FUZZ) -fuzz=FuzzWriterReaderRoundTrip -fuzztime=150000x ./internal/sse
	$(FUZZ) -fuzz=FuzzTemplatedURLStaysOnItsHostAndSegment -fuzztime=100000x ./source
	$(FUZZ) -fuzz=FuzzNeedValuesStayInTheirPlace -fuzztime=60000x ./internal/template
	$(FUZZ) -fuzz=FuzzCallKey -fuzztime=8000x ./source
	$(FUZZ) -fuzz=FuzzRouteQuery -fuzztime=60000x ./internal/server

serve:
	$(GO) run ./cmd/highway serve

build:
	$(GO) build -o highway ./cmd/highway
