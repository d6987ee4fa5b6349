# make test: the whole suite, installing what it needs first.
# make serve: run the gateway on the embedded default.

GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test deps lint unit fuzz serve build

test: deps lint unit fuzz

deps:
	@bash scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 8m ./...

# Short, fixed-time fuzz runs of the parsers and encoders.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=10s ./internal/config
	$(GO) test -run='^$$' -fuzz=FuzzRatioAndHedgeDelay -fuzztime=5s ./internal/config
	$(GO) test -run='^$$' -fuzz=FuzzAppendString -fuzztime=10s ./internal/report
	$(GO) test -run='^$$' -fuzz=FuzzFaultQuery -fuzztime=5s ./internal/mock
	$(GO) test -run='^$$' -fuzz=FuzzWriterReaderRoundTrip -fuzztime=5s ./internal/sse
	$(GO) test -run='^$$' -fuzz=FuzzTemplatedURLStaysOnItsHostAndSegment -fuzztime=10s ./source
	$(GO) test -run='^$$' -fuzz=FuzzNeedValuesStayInTheirPlace -fuzztime=10s ./source
	$(GO) test -run='^$$' -fuzz=FuzzRouteQuery -fuzztime=5s ./internal/server

serve:
	$(GO) run ./cmd/highway serve

build:
	$(GO) build -o highway ./cmd/highway
