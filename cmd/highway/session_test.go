package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// session runs documented commands (a README console block, an example's
// "try" lines) as a user would type them into a shell at the repository's
// root, with the binary under test as highway on the PATH. The documented
// ports become free ones: the server's 8080 (HIGHWAY_ADDR, so that a
// config's listen follows too) and highway mock's 9000 (HIGHWAY_UPSTREAM).
// A line ending in & runs in the background until the session ends; a
// server so started is waited for before the next line runs.
type session struct {
	t      *testing.T
	env    []string
	serve  string // host:port standing for 127.0.0.1:8080
	mock   string // host:port standing for 127.0.0.1:9000
	procs  []*exec.Cmd
	served bool // a line started highway serve
}

func newSession(t *testing.T, bin string) *session {
	s := &session{t: t, serve: freeAddr(t), mock: freeAddr(t)}
	s.env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"),
		"HIGHWAY_ADDR="+s.serve, "HIGHWAY_UPSTREAM="+s.mock, "HIGHWAY_MOCK_ADDR=")
	t.Cleanup(s.close)
	return s
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	leadingAssignments = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)+`)
	port8080           = regexp.MustCompile(`(localhost|127\.0\.0\.1):8080\b`)
	port9000           = regexp.MustCompile(`(localhost|127\.0\.0\.1):9000\b`)
)

// rewrite is line with the documented ports replaced by the session's.
func (s *session) rewrite(line string) string {
	line = port8080.ReplaceAllString(line, s.serve)
	return port9000.ReplaceAllString(line, s.mock)
}

// run runs one command line and returns its output (stdout and stderr)
// and exit code; a background line returns at once, once its server
// answers.
func (s *session) run(line string) (string, int) {
	s.t.Helper()
	line = s.rewrite(strings.TrimSpace(line))
	if bg, ok := strings.CutSuffix(line, "&"); ok {
		assign := leadingAssignments.FindString(bg) // VAR=x highway serve: VAR=x exec highway serve
		cmd := exec.Command("bash", "-c", assign+"exec "+bg[len(assign):])
		cmd.Dir, cmd.Env = "../..", s.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("%s: %v", line, err)
		}
		s.procs = append(s.procs, cmd)
		switch {
		case strings.Contains(bg, "highway serve"):
			s.served = true
			s.await(s.serve, line)
		case strings.Contains(bg, "highway mock"):
			s.await(s.mock, line)
		}
		return "", 0
	}
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir, cmd.Env = "../..", s.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	return string(out), code
}

// await waits until addr accepts connections, for the server line started.
func (s *session) await(addr, line string) {
	s.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	s.t.Fatalf("%s: nothing listens at %s", line, addr)
}

// close ends the background commands, as Ctrl-C would, then for good.
func (s *session) close() {
	for _, cmd := range s.procs {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	}
	for _, cmd := range s.procs {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	s.procs = nil
}
