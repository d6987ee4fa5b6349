package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citypopy/highway/internal/config"
	"github.com/citypopy/highway/internal/listener"
)

// serveOn serves h on a loopback listener with lim until the test ends,
// each accepted connection passed through onAccept.
func serveOn(t *testing.T, h http.Handler, lim config.Server, onAccept func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- listener.Serve(ctx, &hookListener{Listener: ln, onAccept: onAccept}, h, time.Second, lim)
	}()
	t.Cleanup(func() {
		stop()
		<-served
		http.DefaultClient.CloseIdleConnections()
	})
	return ln.Addr().String()
}

type hookListener struct {
	net.Listener
	onAccept func(net.Conn)
}

func (l *hookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.onAccept != nil {
		l.onAccept(c)
	}
	return c, err
}

func TestSlowlorisConnectionsAreCutWhileOthersAreServed(t *testing.T) {
	t.Parallel()
	s := newServer(t, `
sources: {weather: {kind: mock, latency: 1ms, data: 1}}
routes: [{path: /r, sources: [weather]}]
`)
	lim := config.DefaultServer
	lim.ReadHeaderTimeout = config.Duration(300 * time.Millisecond)
	addr := serveOn(t, s, lim, nil)

	// Twenty clients send a header line every 50ms and never finish.
	const slow = 20
	cut := make(chan error, slow)
	var wg sync.WaitGroup
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			io.WriteString(c, "GET /r HTTP/1.1\r\nHost: x\r\n")
			for i := 0; ; i++ {
				if _, err := io.WriteString(c, "X-Drip: "+strings.Repeat("a", i%10)+"\r\n"); err != nil {
					break // the server has closed the connection
				}
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
					cut <- err // closed (EOF or reset): what we want
					return
				}
				if i > 200 { // 10s: the server never cut it
					cut <- nil
					return
				}
			}
			cut <- errors.New("write failed")
		})
	}
	// Meanwhile an honest client is served at once.
	resp, err := http.Get("http://" + addr + "/r")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("honest request during the Slowloris attack: %v %v", resp, err)
	}
	resp.Body.Close()
	wg.Wait()
	close(cut)
	for err := range cut {
		if err == nil {
			t.Error("a Slowloris connection was held open past 10s")
		}
	}
}

func TestClientsThatStopReadingAreCutOff(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/r?stream=1", "/r"} {
		t.Run(target, func(t *testing.T) { stopReading(t, target) })
	}
}

// stopReading asks for target, a 1 MiB answer, then reads nothing more,
// and checks that the handler gives up within the write timeout.
func stopReading(t *testing.T, target string) {
	s := newServer(t, `
server: {write_timeout: 200ms}
sources:
  big: {kind: mock, latency: 1ms, data: "`+strings.Repeat("x", 1<<20)+`"}
routes: [{path: /r, sources: [big]}]
`)
	returned := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		returned <- struct{}{}
	})
	// Small socket buffers on both sides, so that a client that stops
	// reading blocks the server's writes at once.
	lim := config.DefaultServer // what serve passes Serve from the config
	lim.WriteTimeout = config.Duration(200 * time.Millisecond)
	addr := serveOn(t, h, lim, func(c net.Conn) { c.(*net.TCPConn).SetWriteBuffer(4096) })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("the answer did not start: %q %v", status, err)
	}
	// Now the client reads nothing more.
	await(t, returned, 1, "the handler to give up on a client that stopped reading")
}

// A rolling deadline never expires under a write: a large report, then,
// past its deadline's time, a small one on the same keep-alive
// connection, and so on.
func TestASmallReportNeverMeetsAnOldDeadline(t *testing.T) {
	t.Parallel()
	s := newServer(t, `
server: {write_timeout: 200ms}
sources:
  big:   {kind: mock, latency: 1ms, data: "`+strings.Repeat("x", 8<<10)+`"}
  small: {kind: mock, latency: 1ms, data: 1}
routes:
  - {path: /big, sources: [big]}
  - {path: /small, sources: [small]}
`)
	lim := config.DefaultServer
	lim.WriteTimeout = config.Duration(200 * time.Millisecond)
	addr := serveOn(t, s, lim, nil)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i, path := range []string{"/big", "/small", "/big", "/r404", "/small"} {
		if i > 0 {
			time.Sleep(300 * time.Millisecond) // past the last answer's deadline
		}
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("%s after an earlier answer's deadline: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
