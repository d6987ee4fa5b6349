package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// startTracing turns tracing on when the standard OpenTelemetry variables
// ask for it (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and neither OTEL_SDK_DISABLED=true
// nor OTEL_TRACES_EXPORTER=none). It exports OTLP over HTTP/protobuf,
// which reads the rest of the OTEL_ variables itself (headers, timeout,
// sampler, resource). A nil provider means tracing is off; stop flushes
// the spans not yet sent.
func startTracing(ctx context.Context) (tp *sdktrace.TracerProvider, stop func(context.Context) error, err error) {
	off := func(context.Context) error { return nil }
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" ||
		strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") ||
		os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, off, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(name); p != "" && p != "http/protobuf" {
			return nil, off, fmt.Errorf("tracing: %s=%s: highway exports OTLP over http/protobuf only", name, p)
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, off, fmt.Errorf("tracing: start the OTLP exporter: %w", err)
	}
	// The service is "highway" unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES say otherwise: later detectors win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "highway")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, off, fmt.Errorf("tracing: resource from OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// tracesEndpoint is where spans go, as the exporter reads the variables:
// the traces endpoint as it is, or the general one with /v1/traces; its
// user and password, if any, left out.
func tracesEndpoint() string {
	e := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if e == "" {
		e = strings.TrimRight(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + "/v1/traces"
	}
	if u, err := url.Parse(e); err == nil && u.User != nil {
		u.User = nil
		e = u.String()
	}
	return e
}

// reportTracingErrors sends the exporter's errors (a collector that does
// not answer) where the request log goes, in its format; with no log, to
// stderr as a line of highway's own. OpenTelemetry's handler is global:
// it is set once, by serve.
func reportTracingErrors(logger *slog.Logger, stderr io.Writer) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		if logger != nil {
			logger.Error("tracing: export failed", "err", err.Error())
			return
		}
		fmt.Fprintf(stderr, "highway: tracing: %v\n", err)
	}))
}
