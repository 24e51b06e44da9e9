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

package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/test/proc"
)

// Defaults.
const (
	DefaultLockWait     = 15 * time.Minute
	DefaultReadyTimeout = 2 * time.Minute
	// EnvKeepState names the environment variable that keeps the state
	// directory's logs after Stop (they are also kept when a test fails).
	EnvKeepState = "KNTRACE_KEEP_STATE"
)

type config struct {
	dir          string
	cacheDir     string
	moduleDir    string
	logf         func(string, ...any)
	lockWait     time.Duration
	readyTimeout time.Duration
	ingressAddr  string
}

// Option configures Start.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDir sets the state directory (default: $TMPDIR/kntrace-cluster). It
// is emptied at start and removed by Stop.
func WithDir(dir string) Option { return optionFunc(func(c *config) { c.dir = dir }) }

// WithCacheDir sets where images built for one cluster are kept for the
// next (default: ${XDG_CACHE_HOME:-$HOME/.cache}/kntrace/cluster).
func WithCacheDir(dir string) Option { return optionFunc(func(c *config) { c.cacheDir = dir }) }

// WithModuleDir sets the kntrace checkout the cluster builds its small
// programs (the pause container, CoreDNS's image) and ko images in
// (default: the Go module of the working directory).
func WithModuleDir(dir string) Option { return optionFunc(func(c *config) { c.moduleDir = dir }) }

// WithLogf receives progress lines (default: discarded).
func WithLogf(logf func(format string, args ...any)) Option {
	return optionFunc(func(c *config) { c.logf = logf })
}

// WithOutput writes progress lines to w.
func WithOutput(w io.Writer) Option {
	return WithLogf(func(format string, args ...any) {
		fmt.Fprintf(w, "%s cluster: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	})
}

// WithLockWait bounds the wait for another cluster on the machine to stop.
func WithLockWait(d time.Duration) Option { return optionFunc(func(c *config) { c.lockWait = d }) }

// WithReadyTimeout bounds each wait of the start (a process answering, the
// Node Ready, a Deployment available).
func WithReadyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.readyTimeout = d })
}

// WithIngressAddr sets the loopback address (127.0.0.1:PORT) of the
// ingress's public entry point (default: a free port).
func WithIngressAddr(addr string) Option {
	return optionFunc(func(c *config) { c.ingressAddr = addr })
}

// Timing is the duration of one start-up step.
type Timing struct {
	Step     string
	Duration time.Duration
}

// Cluster is a running single-node Kubernetes cluster.
type Cluster struct {
	// Dir is the state directory: logs/ (every process's log), pki/,
	// the kubeconfigs, etcd/, containerd/, kubelet/.
	Dir string
	// Kubeconfig is a cluster-admin kubeconfig (certificates embedded).
	Kubeconfig string
	// Config is a cluster-admin client configuration.
	Config *rest.Config
	// Client is a clientset on Config.
	Client kubernetes.Interface
	// Registry is the cluster's image registry on loopback.
	Registry *Registry
	// BaseImage is the base of every Go image (ko's default base): a
	// nonroot user 65532, CA certificates, a 1777 /tmp.
	BaseImage string
	// PodCIDR is the node's pod range.
	PodCIDR netip.Prefix
	// IngressAddr is Traefik's public entry point on loopback (host:port)
	// once InstallTraefik ran: send Host NAME.NAMESPACE.example.com.
	IngressAddr string
	// Timings of Start, in order; the last is the total.
	Timings []Timing

	cfg      config
	files    *kubeFiles
	rec      *hostRecord
	lock     *proc.MachineLock
	mu       sync.Mutex
	procs    []*proc.Process
	stopOnce sync.Once
	keepLogs bool
	// traefikAPI is Traefik's ping and API entry point on loopback.
	traefikAPI string
	// online lets moduleDir fetch modules (Prepare only).
	online bool
}

// requiredTools are the binaries hack/tools.sh builds that Start runs.
var requiredTools = []string{
	binaries.Etcd, binaries.KubeAPIServer, binaries.KubeControllerManager, binaries.KubeScheduler,
	binaries.Kubelet, binaries.KubeProxy, binaries.Crane, binaries.CoreDNS,
}

// Start boots the cluster: the node's address, containerd, the registry and
// the images the node needs, etcd and the Kubernetes control plane, the
// kubelet and kube-proxy, the pod network and CoreDNS. It returns once the
// Node is Ready and DNS answers. It needs root, the Debian packages of
// hack/apt.sh and the tools of hack/tools.sh; one cluster runs per machine
// (a second Start waits). When it fails, everything it did is undone.
func Start(ctx context.Context, opts ...Option) (c *Cluster, err error) {
	cfg := config{lockWait: DefaultLockWait, readyTimeout: DefaultReadyTimeout, logf: func(string, ...any) {}}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root (network, mounts, cgroups, containerd): run the tests as root")
	}
	var missing []string
	for _, t := range requiredTools {
		if _, err := binaries.Path(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not built in %s: run `make tools` (or hack/tools.sh %s)", strings.Join(missing, ", "), binaries.Dir(), strings.Join(missing, " "))
	}
	for _, t := range []string{"ip", "iptables", "conntrack"} {
		if _, err := exec.LookPath(t); err != nil {
			return nil, fmt.Errorf("%s is not on PATH: run hack/apt.sh", t)
		}
	}
	if cfg.dir == "" {
		cfg.dir = filepath.Join(os.TempDir(), "kntrace-cluster")
	}
	if cfg.cacheDir == "" {
		cfg.cacheDir = filepath.Join(filepath.Dir(binaries.Dir()), "cluster")
	}
	if cfg.moduleDir == "" {
		if cfg.moduleDir, err = moduleRoot(); err != nil {
			return nil, err
		}
	}
	c = &Cluster{cfg: cfg, Dir: cfg.dir, IngressAddr: cfg.ingressAddr}
	total := time.Now()

	if c.lock, err = acquireLock(ctx, cfg.lockWait, cfg.logf); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.keepLogs = true
			c.Stop()
		}
	}()
	if err := c.step("clean up after an earlier run", func() error {
		stale, err := loadHostRecord()
		if err != nil {
			return err
		}
		if stale != nil {
			cfg.logf("an earlier cluster (state %s) did not stop cleanly: undoing what it changed", stale.Dir)
			if err := stale.teardown(cfg.logf); err != nil {
				return fmt.Errorf("undo the earlier cluster's changes: %w", err)
			}
		}
		// Left by a run that stopped cleanly but kept its state, or by
		// hand: nothing may be mounted there before it is emptied.
		if err := unmountUnder(c.Dir); err != nil {
			return err
		}
		if err := os.RemoveAll(c.Dir); err != nil {
			return fmt.Errorf("empty the state directory %s: %w", c.Dir, err)
		}
		return os.MkdirAll(c.logDir(), 0o755)
	}); err != nil {
		return c, err
	}

	c.rec = newHostRecord(c.Dir)
	if err := c.rec.save(); err != nil {
		return c, err
	}
	if err := c.step("node address and host settings", func() error {
		if err := setupNodeLink(); err != nil {
			return err
		}
		// Pods reach ClusterIPs and the node through the host's routing.
		if err := writeSysctl("net.ipv4.ip_forward", "1"); err != nil {
			return err
		}
		if err := createCgroupRoot(cgroupRoot); err != nil {
			return err
		}
		c.files, err = makeKubeFiles(c.Dir)
		if err != nil {
			return err
		}
		c.Kubeconfig = c.files.admin
		return nil
	}); err != nil {
		return c, err
	}

	// The control plane and the node's runtime start side by side.
	var coreDNSImage string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return c.step("etcd and kube-apiserver", func() error { return c.startEtcdAndAPIServer(gctx) })
	})
	g.Go(func() error {
		var pause string
		if err := c.step("registry and node images", func() error {
			var err error
			pause, coreDNSImage, err = c.nodeImages(gctx)
			return err
		}); err != nil {
			return err
		}
		return c.step("containerd", func() error { return c.startContainerd(pause) })
	})
	if err := g.Wait(); err != nil {
		return c, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return c, err
	}
	if err := c.step("controllers, kubelet and kube-proxy", func() error {
		if err := c.startControllers(); err != nil {
			return err
		}
		if err := c.startKubelet(); err != nil {
			return err
		}
		return c.startKubeProxy()
	}); err != nil {
		return c, err
	}
	if err := c.step("Node Ready", func() error { return c.waitNode(ctx) }); err != nil {
		return c, err
	}
	if err := c.step("CoreDNS", func() error {
		if err := c.installCoreDNS(ctx, coreDNSImage); err != nil {
			return err
		}
		return c.WaitDeploymentReady(ctx, "kube-system", "coredns", cfg.readyTimeout)
	}); err != nil {
		return c, err
	}
	c.Timings = append(c.Timings, Timing{Step: "total", Duration: time.Since(total)})
	cfg.logf("ready in %s: kubeconfig %s, registry %s", time.Since(total).Round(time.Millisecond), c.Kubeconfig, c.Registry.Host)
	return c, nil
}

// StartForTest starts a cluster for a test, logging through t.Logf, and
// stops it when the test ends; a failed test keeps the logs (the path is
// logged).
func StartForTest(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	opts = append([]Option{WithLogf(tb.Logf)}, opts...)
	c, err := Start(ctx, opts...)
	if err != nil {
		tb.Fatalf("start the local cluster: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			c.keepLogs = true
		}
		c.Stop()
	})
	return c
}

func (c *Cluster) step(name string, f func() error) error {
	start := time.Now()
	c.cfg.logf("%s …", name)
	err := f()
	d := time.Since(start)
	c.mu.Lock()
	c.Timings = append(c.Timings, Timing{Step: name, Duration: d})
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.cfg.logf("%s: done in %s", name, d.Round(time.Millisecond))
	return nil
}

// heartbeatEvery is how often a long build says it is still running.
const heartbeatEvery = time.Minute

// heartbeat logs what with the time elapsed every heartbeatEvery until the
// returned function is called, so that a long build is not silent.
func (c *Cluster) heartbeat(what string) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.cfg.logf("%s (%s)", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// Stop stops every process of the cluster and undoes what it changed on
// the machine: containers, mounts, links, iptables chains, cgroups, the
// sysctls it or the kubelet changed, the paths the kubelet and containerd
// created, and the state directory (the logs move to a directory in
// $TMPDIR when a test failed or KNTRACE_KEEP_STATE is set). It is safe to
// call more than once and on a cluster that did not start completely.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() {
		c.mu.Lock()
		procs := append([]*proc.Process(nil), c.procs...)
		c.mu.Unlock()
		// The containers first (their watches would hold the API server's
		// graceful shutdown), then the node (no restarts of what the rest
		// stops), then the control plane; SIGKILL after the grace period.
		if c.rec != nil {
			if err := killCgroup(cgroupRoot); err != nil {
				c.cfg.logf("stop: %v", err)
			}
		}
		for i := len(procs) - 1; i >= 0; i-- {
			start := time.Now()
			procs[i].Stop()
			if d := time.Since(start); d > time.Second {
				c.cfg.logf("stop: %s took %s", procs[i].Name, d.Round(time.Millisecond))
			}
		}
		c.Registry.stop()
		if c.rec != nil {
			keep := c.keepLogs || os.Getenv(EnvKeepState) != ""
			var kept string
			if keep {
				kept = c.saveLogs()
			}
			if err := c.rec.teardown(c.cfg.logf); err != nil {
				c.cfg.logf("stop: %v", err)
			}
			if kept != "" {
				c.cfg.logf("logs kept in %s", kept)
			}
		}
		c.lock.Release()
	})
}

// saveLogs moves the process and pod logs out of the state directory.
func (c *Cluster) saveLogs() string {
	dst := filepath.Join(os.TempDir(), "kntrace-cluster-logs-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return ""
	}
	for _, d := range []struct{ from, to string }{
		{c.logDir(), "processes"},
		{filepath.Join(c.Dir, "kubelet", "pod-logs"), "pods"},
	} {
		if err := copyTree(d.from, filepath.Join(dst, d.to)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.cfg.logf("keep logs: %v", err)
		}
	}
	return dst
}

func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// moduleRoot returns the directory of the main module of the working
// directory.
func moduleRoot() (string, error) {
	dir, err := manifests.MainModuleDir()
	if err != nil {
		return "", fmt.Errorf("%w, or pass cluster.WithModuleDir", err)
	}
	return dir, nil
}

// waitNode waits for the Node to register and get its pod CIDR, writes the
// pod network's CNI configuration for that range, and waits for the Node to
// be Ready.
func (c *Cluster) waitNode(ctx context.Context) error {
	err := c.poll(ctx, c.cfg.readyTimeout, "Node "+NodeName+" registered with a pod CIDR", func(ctx context.Context) (string, error) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if n.Spec.PodCIDR == "" {
			return "no pod CIDR yet (kube-controller-manager assigns it)", nil
		}
		p, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil {
			return "", fmt.Errorf("Node %s: pod CIDR %q: %w", NodeName, n.Spec.PodCIDR, err)
		}
		c.PodCIDR = p
		return "", nil
	})
	if err != nil {
		return c.withLog(err, "kubelet", "kube-controller-manager")
	}
	if err := c.writeCNIConfig(c.PodCIDR); err != nil {
		return err
	}
	err = c.poll(ctx, c.cfg.readyTimeout, "Node "+NodeName+" Ready", func(ctx context.Context) (string, error) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == "Ready" {
				if cond.Status == "True" {
					return "", nil
				}
				return fmt.Sprintf("Ready=%s: %s: %s", cond.Status, cond.Reason, cond.Message), nil
			}
		}
		return "no Ready condition yet", nil
	})
	return c.withLog(err, "kubelet", "containerd")
}

// withLog adds the end of the named processes' logs to err.
func (c *Cluster) withLog(err error, names ...string) error {
	if err == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString(err.Error())
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		for _, p := range c.procs {
			if p.Name == n {
				fmt.Fprintf(&b, "\n--- %s (%s):\n%s", n, p.LogPath, p.LogTail(15))
			}
		}
	}
	return errors.New(b.String())
}

// poll is the package's poll that also fails as soon as one of the
// cluster's processes has exited, quoting its log.
func (c *Cluster) poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) (string, error)) error {
	return poll(ctx, timeout, what, func(ctx context.Context) (string, error) {
		if err := c.exited(); err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return check(ctx)
	})
}

// exited returns an error naming the first process of the cluster that is
// no longer running, with the end of its log.
func (c *Cluster) exited() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if done, err := p.Exited(); done {
			return fmt.Errorf("%s exited (%v); log %s:\n%s", p.Name, err, p.LogPath, p.LogTail(20))
		}
	}
	return nil
}

// poll calls check until it reports nothing left to wait for ("" and nil),
// fails (an error), or timeout passes; the timeout error names what was
// awaited and the last state check reported.
func poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) (string, error)) error {
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := "not checked yet"
	for {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		state, err := check(cctx)
		ccancel()
		if err != nil {
			return err
		}
		if state == "" {
			return nil
		}
		// A check cut short by the deadline says nothing about the
		// state (ctx.Err() may lag the deadline on a loaded machine).
		if time.Until(deadline) > 0 {
			last = state
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s (last: %s)", what, timeout, last)
		case <-tick.C:
		}
	}
}

// MemoryRSS is the resident memory of every process of the cluster: the
// control plane, containerd and its shims, the registry and every
// container.
func (c *Cluster) MemoryRSS() int64 {
	pids := map[int]bool{}
	for _, p := range pidsByArg(c.Dir) {
		pids[p] = true
	}
	for _, p := range pidsInCgroup(cgroupRoot) {
		pids[p] = true
	}
	var total int64
	for pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					total += kb * 1024
				}
			}
		}
	}
	return total
}
