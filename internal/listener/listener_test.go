package listener

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/citypopy/highway/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A handler writing to a client that stopped reading is cut off by the
// rolling write deadline, with no write timeout of net/http's own; and
// once the context ends Serve drains and returns.
func TestAClientThatStopsReadingIsCutAndServeDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gaveUp := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				gaveUp <- err
				return
			}
		}
	})
	lim := config.DefaultServer
	lim.WriteTimeout = config.Duration(200 * time.Millisecond)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, time.Second, lim) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(status, "200") {
		t.Fatalf("the answer did not start: %q %v", status, err)
	}
	// Now the client reads nothing more.
	select {
	case err := <-gaveUp:
		if ne, ok := err.(net.Error); ok && !ne.Timeout() {
			t.Errorf("the handler's write failed, but not on its deadline: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that stopped reading held its handler for 10s")
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve after its context ended: %v", err)
	}
}
