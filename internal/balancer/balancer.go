// Package balancer runs Debian's nginx in front of Highway replicas on
// loopback, for the end-to-end test and the benchmark, with the same proxy
// settings as deploy/compose/nginx.conf: round robin over kept-alive
// connections, and an idempotent request that meets a refused connection,
// a 502 or a 503 tried on the next replica, which is how a replica drains
// without losing a request.
package balancer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proxy is the location block's settings, one per line.
const Proxy = `proxy_pass http://highway;
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_next_upstream error timeout http_502 http_503;
proxy_next_upstream_tries 3;
proxy_buffering off;`

// Nginx is one nginx balancing over replicas.
type Nginx struct {
	// Addr is where it listens, host:port.
	Addr string
	dir  string
	cmd  *exec.Cmd
	out  *os.File
}

// Binary is the path of nginx: on PATH, or where Debian puts it.
func Binary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx is not installed: run scripts/deps.sh (apt-get install nginx)")
}

// Config is an nginx.conf listening on listen and balancing over
// upstreams (host:port), with every file it writes under dir.
func Config(dir, listen string, upstreams []string) string {
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "    server %s max_fails=1 fail_timeout=2s;\n", u)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // the workers must read dir, which is root's
	}
	indented := "      " + strings.ReplaceAll(Proxy, "\n", "\n      ")
	return fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  upstream highway {
%[3]s    keepalive 64;
  }
  server {
    listen %[4]s;
    location / {
%[5]s
    }
  }
}
`, user, dir, servers.String(), listen, indented)
}

// Start runs nginx in the foreground on listen ("127.0.0.1:0" picks a
// free port) over upstreams, its files in dir, and waits until it answers.
func Start(dir, listen string, upstreams []string) (*Nginx, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(listen, ":0") {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return nil, err
		}
		listen = ln.Addr().String()
		ln.Close()
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(Config(dir, listen, upstreams)), 0o600); err != nil {
		return nil, err
	}
	n := &Nginx{Addr: listen, dir: dir}
	n.cmd = exec.Command(bin, "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if n.out, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		return nil, err
	}
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		n.out.Close()
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", listen); err == nil {
			c.Close()
			return n, nil
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, fmt.Errorf("nginx did not listen on %s within 10s: %s", listen, n.Log())
		}
	}
}

// URL is the balancer's base URL.
func (n *Nginx) URL() string { return "http://" + n.Addr }

// Log is nginx's error log.
func (n *Nginx) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	out, _ := os.ReadFile(filepath.Join(n.dir, "stderr"))
	return string(b) + string(out)
}

// Pids are nginx's processes, the master and its workers, for measuring
// the CPU it uses.
func (n *Nginx) Pids() []int {
	pid := n.cmd.Process.Pid
	pids := []int{pid}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			pids = append(pids, c)
		}
	}
	return pids
}

// Stop stops nginx gracefully and waits for it.
func (n *Nginx) Stop() {
	n.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	n.out.Close()
}
