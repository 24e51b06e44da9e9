/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL.
const DefaultGrace = 5 * time.Second

type config struct {
	env     []string
	dir     string
	logDir  string
	grace   time.Duration
	wrapper []string
	pidNS   bool
}

// Option configures Start.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEnv adds KEY=VALUE pairs to the process environment (on top of the
// caller's own environment).
func WithEnv(kv ...string) Option {
	return optionFunc(func(c *config) { c.env = append(c.env, kv...) })
}

// WithDir sets the working directory.
func WithDir(dir string) Option { return optionFunc(func(c *config) { c.dir = dir }) }

// WithLogDir sets where NAME.log is written; default: a new temp directory.
func WithLogDir(dir string) Option { return optionFunc(func(c *config) { c.logDir = dir }) }

// WithGrace sets the SIGTERM→SIGKILL grace period used by Stop.
func WithGrace(d time.Duration) Option { return optionFunc(func(c *config) { c.grace = d }) }

// WithWrapper runs the binary through a wrapper command, e.g.
// "ip netns exec NS" or "unshare -m sh -c ...". The wrapper must exec the
// binary so that signals reach it.
func WithWrapper(argv ...string) Option {
	return optionFunc(func(c *config) { c.wrapper = append([]string(nil), argv...) })
}

// WithPIDNamespace starts the process as PID 1 of a new PID namespace, as a
// container's entrypoint runs: a signal it does not handle is ignored
// rather than fatal. Needs root.
func WithPIDNamespace() Option { return optionFunc(func(c *config) { c.pidNS = true }) }

// Process is a started child process.
type Process struct {
	Name    string
	LogPath string

	cmd   *exec.Cmd
	grace time.Duration
	done  chan struct{}
	once  sync.Once
	err   error
}

// Start starts path with args. Its stdout and stderr go to LogPath.
func Start(name, path string, args []string, opts ...Option) (*Process, error) {
	cfg := config{grace: DefaultGrace}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.logDir == "" {
		d, err := os.MkdirTemp("", "kntrace-"+name+"-")
		if err != nil {
			return nil, err
		}
		cfg.logDir = d
	}
	logPath := filepath.Join(cfg.logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := append(append(append([]string(nil), cfg.wrapper...), path), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), cfg.env...)
	cmd.Dir = cfg.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cfg.pidNS {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, grace: cfg.grace, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Signal sends sig to the process group. Once the process has exited and
// been reaped its group id may belong to an unrelated process, so an exited
// process is never signalled.
func (p *Process) Signal(sig syscall.Signal) error {
	if exited, _ := p.Exited(); exited {
		return fmt.Errorf("%s has already exited", p.Name)
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Stop sends SIGTERM, waits up to the grace period, then SIGKILLs the
// process group. It is safe to call more than once.
func (p *Process) Stop() {
	p.once.Do(func() {
		if exited, _ := p.Exited(); exited {
			return
		}
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.grace):
			_ = p.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
}

// Kill SIGKILLs the process group and waits for it.
func (p *Process) Kill() {
	p.once.Do(func() {
		if p.Signal(syscall.SIGKILL) == nil {
			<-p.done
		}
	})
}

// LogTail returns the last n lines of the process log, for error messages.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls ready every interval until it returns nil, the process
// exits, or timeout passes; the error names the process and quotes its log.
func (p *Process) WaitFor(timeout time.Duration, what string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		err := ready(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		// An attempt cut short by the overall deadline says nothing new:
		// keep the error of the last whole attempt for the message.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s (%v); log %s:\n%s", p.Name, what, p.err, p.LogPath, p.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not reached within %s (last error: %v); log %s:\n%s", p.Name, what, timeout, last, p.LogPath, p.LogTail(30))
		case <-tick.C:
		}
	}
}

// HTTPReady returns a readiness check that wants status 200 from url.
func HTTPReady(client *http.Client, url string) func(context.Context) error {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(b.String()))
		}
		return nil
	}
}

// TCPReady returns a readiness check that wants addr to accept a connection.
func TCPReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FreePorts returns n distinct loopback TCP ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) != n {
		return nil, errors.New("not enough free ports")
	}
	return ports, nil
}
