package source_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/citypopy/highway/source"
)

// An HTTP source whose query is filled from the request's parameters,
// each value escaped for its place; the host stays the one configured.
func ExampleHTTP() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"city": %q, "temp": "22°C"}`, r.URL.Query().Get("city"))
	}))
	defer up.Close()
	pool := source.NewTransport() // shared by every source of a gateway
	defer pool.CloseIdleConnections()

	weather := &source.HTTP{URL: up.URL + "/weather?city={{.params.city}}", Transport: pool}
	call := &source.Call{Params: map[string]string{"city": "Rio de Janeiro & Niterói"}}
	a, err := weather.Fetch(context.Background(), call)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := a.Value(context.Background()) // whole at once: an HTTP source does not stream
	fmt.Println(string(v), err)
	// Output: {"city": "Rio de Janeiro & Niterói", "temp": "22°C"} <nil>
}

// A redirect is the upstream's answer, not an instruction: it is not
// followed, so an upstream cannot send the call to a host the config does
// not name.
func ExampleHTTP_redirectIsAnAnswer() {
	up := httptest.NewServer(http.RedirectHandler("http://elsewhere.invalid/", http.StatusFound))
	defer up.Close()
	pool := source.NewTransport()
	defer pool.CloseIdleConnections()

	_, err := (&source.HTTP{URL: up.URL + "/weather", Transport: pool}).Fetch(context.Background(), nil)
	var status *source.StatusError
	fmt.Println(errors.As(err, &status), status.Code, status.Retryable())
	// Output: true 302 false
}
