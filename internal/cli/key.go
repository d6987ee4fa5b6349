package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/citypopy/highway/internal/config"
)

// KeyEnv is the variable race and surge read a client API key from: a
// key on the command line would show in ps and shell history.
const KeyEnv = "HIGHWAY_API_KEY"

// keyHeader is the Authorization header for the key env has in KeyEnv,
// or nil.
func keyHeader(env config.Env) http.Header {
	if k := getenv(env, KeyEnv); k != "" {
		return http.Header{"Authorization": {"Bearer " + k}}
	}
	return nil
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// makeKey prints a new random key for the caller NAME, once, and the
// lines that admit it: only the hash goes in the config.
func makeKey(_ context.Context, env config.Env, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("key", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	args = fs.Args()
	if len(args) != 1 || !clientName.MatchString(args[0]) {
		fmt.Fprintln(stderr, "usage: highway key NAME  (NAME: 1 to 64 letters, digits, _ . -)")
		return ExitUsage
	}
	var b [24]byte
	rand.Read(b[:])
	key := "hw_" + hex.EncodeToString(b[:])
	sum := config.HashKey(key)
	fmt.Fprintf(stdout, "key for %s (give it to the caller; it is not stored anywhere):\n  %s\n\n", args[0], key)
	fmt.Fprintf(stdout, "in the config:\nclients:\n  keys:\n    - {name: %s, sha256: %s}\n\n", args[0], hex.EncodeToString(sum[:]))
	fmt.Fprintf(stdout, "or a line of clients.keys_file:\n%s sha256:%s\n", args[0], hex.EncodeToString(sum[:]))
	return ExitOK
}
