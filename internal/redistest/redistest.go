// Package redistest starts real redis-server processes for tests, on free
// loopback ports, as httptest starts HTTP servers: the proof that Highway
// shares state through Redis is against Redis itself.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server run by a test. It is stopped when the test
// ends.
type Server struct {
	// Addr is where it listens, 127.0.0.1:PORT; it keeps the port across
	// Restart.
	Addr string

	t    testing.TB
	dir  string
	tls  *TLS       // nil: plain TCP
	mu   sync.Mutex // over cmd: a test may stop the server from a timer
	cmd  *exec.Cmd
	args []string // the last start's extra arguments
}

// Start runs a redis-server with no persistence on a free loopback port
// and waits until it answers. Without redis-server on PATH the test is
// skipped, except under CI, where it fails: CI installs it.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return startWith(t, nil, args)
}

// StartTLS is Start with TLS only, on a certificate for 127.0.0.1 signed
// by a CA of the test's own, whose PEM file is Server.TLS().CAFile.
func StartTLS(t testing.TB, args ...string) *Server {
	t.Helper()
	return startWith(t, newTLS(t), args)
}

func startWith(t testing.TB, tls *TLS, args []string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed: run scripts/deps.sh (apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed (scripts/deps.sh installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{Addr: addr, t: t, dir: t.TempDir(), tls: tls}
	s.start(args)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(args []string) {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	listen := []string{"--port", port}
	if s.tls != nil {
		listen = []string{"--port", "0", "--tls-port", port, "--tls-cert-file", s.tls.cert, "--tls-key-file", s.tls.key,
			"--tls-ca-cert-file", s.tls.CAFile, "--tls-auth-clients", "no"}
	}
	all := append(append(listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--loglevel", "warning"), args...)
	cmd := exec.Command("redis-server", all...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.args = args
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client()
	defer c.Close()
	for c.Ping(ctx).Err() != nil {
		select {
		case <-ctx.Done():
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Client is a new client of the server, for the test to look inside.
func (s *Server) Client() *redis.Client {
	o := &redis.Options{Addr: s.Addr, DisableIdentity: true, MaxRetries: -1}
	if s.tls != nil {
		o.TLSConfig = s.tls.Config()
	}
	for i, a := range s.args {
		if a == "--requirepass" && i+1 < len(s.args) {
			o.Password = s.args[i+1]
		}
	}
	return redis.NewClient(o)
}

// TLS is the server's TLS material, nil without TLS.
func (s *Server) TLS() *TLS { return s.tls }

// Stop kills the server; its data is gone. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts a new, empty one on the same port.
func (s *Server) Restart(args ...string) {
	s.t.Helper()
	s.Stop()
	s.start(args)
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing
// answers, as when Redis is overloaded. Resume undoes it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume wakes a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		if err := s.cmd.Process.Signal(sig); err != nil {
			s.t.Errorf("signal redis-server: %v", err)
		}
	}
}

// String names the server in messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s (pid %s)", s.Addr, s.pid()) }

func (s *Server) pid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return "stopped"
	}
	return strconv.Itoa(s.cmd.Process.Pid)
}
