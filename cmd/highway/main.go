// Command highway is the async highway for slow AI requests: a gateway that
// fans each request out to many slow sources at once and answers with one
// merged report of every source's result and latency.
//
//	highway serve [-config F] [-addr HOST:PORT]
//	highway check [-config F]
//	highway race  [-config F] [-route /city-report] [-url http://HOST:PORT] [-json]
//
// Run highway help for the details.
package main

import (
	"context"
	"os"

	"github.com/citypopy/highway/internal/cli"
)

func main() {
	cli.HoldHangups() // first: a SIGHUP while serve starts must not end it
	os.Exit(cli.Main(context.Background(), os.LookupEnv, os.Args[1:], os.Stdout, os.Stderr))
}
