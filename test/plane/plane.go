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

package plane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/test/proc"
)

// Binary names of the upstream Knative components (see test/binaries).
const (
	UpstreamActivator  = "activator-upstream"
	UpstreamQueueProxy = "queue-upstream"
)

// The activator's fixed ports (all interfaces of the host network).
var activatorPorts = []int{8012, 8013, 8008}

// ActivatorAddr is where the activator serves requests.
const ActivatorAddr = "127.0.0.1:8012"

// Defaults.
const (
	DefaultIdleTimeout     = 60 * time.Second
	DefaultStopGrace       = 35 * time.Second
	DefaultPodReadyTimeout = 60 * time.Second
	DefaultReadyTimeout    = 90 * time.Second
	DefaultLockWait        = 10 * time.Minute
)

type config struct {
	dir          string
	activator    string
	queueProxy   string
	idle         time.Duration
	stopGrace    time.Duration
	podReadyTO   time.Duration
	readyTO      time.Duration
	moduleDir    string
	images       map[string]string
	out          io.Writer
	eventing     bool
	samplingRate string
	backendOpts  []backends.Option
	lockWait     time.Duration
}

// Option configures Start.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDir keeps the plane's state (API server data, logs of every process,
// built images, hosts file) in dir, which Stop leaves in place. Default: a
// temporary directory removed by Stop unless KNTRACE_KEEP_STATE is set.
func WithDir(dir string) Option { return optionFunc(func(c *config) { c.dir = dir }) }

// WithActivator sets the activator: a ko://<import path> (built with go
// build, e.g. ko://github.com/kntrace/kntrace/cmd/activator), an absolute
// path, or a name in test/binaries. Default: upstream's (activator-upstream).
func WithActivator(image string) Option {
	return optionFunc(func(c *config) { c.activator = image })
}

// WithQueueProxy sets the queue-proxy. A ko:// image is written to
// config-deployment's queue-sidecar-image, as one would in a cluster, so
// the revision's pod spec names it; an absolute path or a test/binaries name
// replaces Knative's default queue image. Default: upstream's
// (queue-upstream).
func WithQueueProxy(image string) Option {
	return optionFunc(func(c *config) { c.queueProxy = image })
}

// WithIdleTimeout sets how long a revision must see no demand in the
// activator's stats before it scales to zero (default 60 s).
func WithIdleTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.idle = d }) }

// WithStopGrace caps a pod's termination grace period (default 35 s; the
// pod spec's terminationGracePeriodSeconds applies when shorter). Upstream's
// queue-proxy sleeps 30 s on SIGTERM, so a shorter grace ends in SIGKILL.
func WithStopGrace(d time.Duration) Option { return optionFunc(func(c *config) { c.stopGrace = d }) }

// WithPodReadyTimeout bounds a pod's start until its readiness probe passes.
func WithPodReadyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.podReadyTO = d })
}

// WithReadyTimeout bounds the wait for each component of the plane.
func WithReadyTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.readyTO = d }) }

// WithModuleDir sets the Go module ko:// images are built in (default: the
// module of the working directory).
func WithModuleDir(dir string) Option { return optionFunc(func(c *config) { c.moduleDir = dir }) }

// WithImage runs binary for a container image that is not ko://.
func WithImage(image, binary string) Option {
	return optionFunc(func(c *config) { c.images[image] = binary })
}

// WithOutput receives the plane's progress and event lines (default:
// discarded).
func WithOutput(w io.Writer) Option { return optionFunc(func(c *config) { c.out = w }) }

// WithEventing also starts the broker ingress, broker filter and in-memory
// channel dispatcher.
func WithEventing() Option { return optionFunc(func(c *config) { c.eventing = true }) }

// WithSamplingRate sets tracing-sampling-rate in both config-observability
// ConfigMaps (default "1"); "" leaves tracing as Knative ships it (off).
func WithSamplingRate(rate string) Option {
	return optionFunc(func(c *config) { c.samplingRate = rate })
}

// WithLockWait bounds the wait for another plane on the machine to stop
// (default 10 minutes; one plane runs per machine).
func WithLockWait(d time.Duration) Option { return optionFunc(func(c *config) { c.lockWait = d }) }

// WithBackendOptions passes options to the Collector and Jaeger.
func WithBackendOptions(opts ...backends.Option) Option {
	return optionFunc(func(c *config) { c.backendOpts = append(c.backendOpts, opts...) })
}

// Plane is a running local Knative plane.
type Plane struct {
	// Dir holds state and logs: apiserver/, backends/, activator.log,
	// pods/<pod>/<container>.log, images/, hosts.
	Dir string
	// API is the Kubernetes API server (Kubeconfig, Config, Client).
	API *apiserver.Server
	// Serving is a Knative Serving clientset on the API server.
	Serving servingclient.Interface
	// Backends are the Collector and Jaeger.
	Backends *backends.Stack
	// IngressURL is the ingress on loopback (http://127.0.0.1:PORT); route
	// with the Host header <svc>.<ns>[.svc.cluster.local].
	IngressURL string
	// TracingEndpoint is the Collector's OTLP gRPC endpoint as Knative's
	// components and pods see it (config-observability tracing-endpoint).
	TracingEndpoint string
	// Timings of Start.
	Timings []Timing

	cfg        config
	own        bool
	kube       kubernetes.Interface
	logMu      sync.Mutex
	ko         *koBuilder
	hosts      *hostsFile
	activator  *proc.Process
	auto       *autoscaler
	pods       *podRunner
	controller *servingController
	ingress    *ingress
	forwarders []*forwarder
	eventing   *eventingPlane
	lock       *proc.MachineLock
	stopOnce   sync.Once
}

// Timing is the duration of one start-up step.
type Timing struct {
	Step     string
	Duration time.Duration
}

func (p *Plane) logf(format string, args ...any) {
	if p.cfg.out == nil {
		return
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.cfg.out, "%s plane: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func (p *Plane) step(name string, f func() error) error {
	start := time.Now()
	p.logf("%s ...", name)
	err := f()
	d := time.Since(start)
	p.Timings = append(p.Timings, Timing{Step: name, Duration: d})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p.logf("%s: done in %s", name, d.Round(time.Millisecond))
	return nil
}

// Start starts the plane. It needs root and the tools built by `make tools`;
// when it fails, everything it started is stopped.
func Start(ctx context.Context, opts ...Option) (p *Plane, err error) {
	cfg := config{
		idle: DefaultIdleTimeout, stopGrace: DefaultStopGrace, podReadyTO: DefaultPodReadyTimeout,
		readyTO: DefaultReadyTimeout, images: map[string]string{}, samplingRate: "1",
		lockWait: DefaultLockWait,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local plane needs root (network and mount namespaces)")
	}
	for _, tool := range []string{"ip", "unshare", "mount", "env", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not on PATH (install iproute2 and util-linux)", tool)
		}
	}
	// Knative's resources code reads SYSTEM_NAMESPACE (system.Namespace()
	// panics without it).
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		os.Setenv("SYSTEM_NAMESPACE", ServingNamespace)
	}
	p = &Plane{cfg: cfg, Dir: cfg.dir}
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", "kntrace-plane-"); err != nil {
			return nil, err
		}
		p.own = true
	} else if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Stop()
			p = nil
		}
	}()
	total := time.Now()

	// One plane per machine: wait for another one to stop. Then ports: if
	// a developer's process holds them, fail before touching anything.
	if p.lock, err = acquireLock(ctx, cfg.lockWait, p.logf); err != nil {
		return p, err
	}
	if err := waitPortsFree(ctx, portsFreeWait); err != nil {
		return p, err
	}
	if removed := cleanStale(); len(removed) > 0 {
		p.logf("removed what an earlier run left: %s", strings.Join(removed, ", "))
	}
	moduleDir := cfg.moduleDir
	if moduleDir == "" {
		if moduleDir, err = moduleRoot(); err != nil {
			return p, err
		}
	}
	p.ko = &koBuilder{moduleDir: moduleDir, outDir: filepath.Join(p.Dir, "images"), images: cfg.images}
	if err := os.MkdirAll(p.ko.outDir, 0o755); err != nil {
		return p, err
	}
	// The queue-proxy is built (ko://) or found before anything runs, so
	// that a cold start never includes a build.
	queueBin, err := p.resolveBinary(ctx, cfg.queueProxy, UpstreamQueueProxy)
	if err != nil {
		return p, fmt.Errorf("queue-proxy: %w", err)
	}
	if strings.HasPrefix(cfg.queueProxy, KoPrefix) {
		queueBin = ""
	}
	activatorBin, err := p.resolveBinary(ctx, cfg.activator, UpstreamActivator)
	if err != nil {
		return p, fmt.Errorf("activator: %w", err)
	}
	if err := ensureServiceIP(); err != nil {
		return p, err
	}
	if p.hosts, err = newHostsFile(filepath.Join(p.Dir, "hosts")); err != nil {
		return p, err
	}

	if err := p.step("kube-apiserver and etcd", func() error {
		dir := filepath.Join(p.Dir, "apiserver")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		p.API, err = apiserver.Start(ctx, apiserver.WithDir(dir))
		return err
	}); err != nil {
		return p, err
	}
	// The plane's own clients do not print the API server's deprecation
	// warnings (v1 Endpoints is what the activator watches).
	quiet := rest.CopyConfig(p.API.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	if p.kube, err = kubernetes.NewForConfig(quiet); err != nil {
		return p, err
	}
	if p.Serving, err = servingclient.NewForConfig(quiet); err != nil {
		return p, err
	}
	sets := []manifests.Set{manifests.ServingCore, manifests.NetworkingCore}
	if cfg.eventing {
		sets = append(sets, manifests.EventingCore, manifests.InMemoryChannel)
	} else {
		sets = append(sets, manifests.EventingCore)
	}
	if err := p.step("Knative CRDs and ConfigMaps", func() error {
		return manifests.ApplySets(ctx, p.API.Config, sets...)
	}); err != nil {
		return p, err
	}
	if err := p.step("OpenTelemetry Collector and Jaeger", func() error {
		bopts := append([]backends.Option{backends.WithLogDir(filepath.Join(p.Dir, "backends"))}, cfg.backendOpts...)
		p.Backends, err = backends.StartStack(ctx, true, bopts...)
		return err
	}); err != nil {
		return p, err
	}
	for _, port := range []string{portOf(p.Backends.Collector.GRPC), portOf(p.Backends.Collector.HTTP)} {
		f, err := startForwarder(net.JoinHostPort(ServiceIP.String(), port), "127.0.0.1:"+port)
		if err != nil {
			return p, err
		}
		p.forwarders = append(p.forwarders, f)
	}
	p.TracingEndpoint = "http://" + net.JoinHostPort(ServiceIP.String(), portOf(p.Backends.Collector.GRPC))
	if err := p.configure(ctx); err != nil {
		return p, err
	}

	p.pods = &podRunner{
		kube: p.kube, serving: p.Serving, ko: p.ko, queueBinary: queueBin, hosts: p.hosts,
		dir: p.Dir, maxGrace: cfg.stopGrace, readyTO: cfg.podReadyTO, logf: p.logf,
		revs: map[types.NamespacedName]*revPods{},
	}
	p.pods.ctx, p.pods.cancel = context.WithCancel(context.Background())
	if err := p.step("serving controller (Service → Configuration → Revision)", func() error {
		p.controller, err = startServingController(p.kube, p.Serving, p.pods, p.hosts, p.logf)
		return err
	}); err != nil {
		return p, err
	}
	p.pods.onChange = func(ctx context.Context, key types.NamespacedName, ready []*pod) {
		p.controller.podsChanged(ctx, key, ready)
		if len(ready) > 0 && p.auto != nil {
			p.auto.touch(key)
		}
	}
	if err := p.step("autoscaler endpoint", func() error {
		p.auto, err = startAutoscaler(AutoscalerAddr, p.pods, cfg.idle, zap.NewNop().Sugar(), p.logf)
		return err
	}); err != nil {
		return p, err
	}
	if err := p.step("activator", func() error { return p.startActivator(activatorBin) }); err != nil {
		return p, err
	}
	p.ingress = newIngress(ActivatorAddr, p.controller.route)
	addr, err := p.ingress.listen("127.0.0.1:0")
	if err != nil {
		return p, err
	}
	p.IngressURL = "http://" + addr
	if _, err := p.ingress.listen(net.JoinHostPort(ServiceIP.String(), "80")); err != nil {
		return p, err
	}
	if cfg.eventing {
		if err := p.step("eventing (broker ingress, filter, in-memory channel dispatcher)", func() error {
			p.eventing, err = startEventing(ctx, p)
			return err
		}); err != nil {
			return p, err
		}
	}
	p.Timings = append(p.Timings, Timing{Step: "total", Duration: time.Since(total)})
	p.logf("ready in %s: ingress %s, Jaeger query %s, kubeconfig %s", time.Since(total).Round(time.Millisecond), p.IngressURL, p.Backends.Jaeger.QueryHTTP, p.API.Kubeconfig)
	return p, nil
}

// StartForTest starts a plane for a test, logging through t.Logf, and stops
// it when the test ends.
func StartForTest(tb testing.TB, opts ...Option) *Plane {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts = append([]Option{WithOutput(testWriter{tb}), WithStopGrace(3 * time.Second)}, opts...)
	p, err := Start(ctx, opts...)
	if err != nil {
		tb.Fatalf("start the local plane: %v", err)
	}
	tb.Cleanup(p.Stop)
	return p
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// resolveBinary maps an activator/queue-proxy setting to an executable.
func (p *Plane) resolveBinary(ctx context.Context, image, upstream string) (string, error) {
	switch {
	case image == "":
		return binaries.Path(upstream)
	case strings.HasPrefix(image, KoPrefix):
		return p.ko.binary(ctx, image)
	case filepath.IsAbs(image):
		if _, err := os.Stat(image); err != nil {
			return "", err
		}
		return image, nil
	}
	return binaries.Path(image)
}

func portOf(hostport string) string {
	_, port, _ := net.SplitHostPort(hostport)
	return port
}

// portsFreeWait bounds the wait for the fixed ports after the lock is
// taken: the previous plane's activator may still be closing them.
const portsFreeWait = 20 * time.Second

// waitPortsFree polls checkPorts until the ports are free or wait passes,
// then fails with checkPorts' message.
func waitPortsFree(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := checkPorts()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkPorts fails with a clear message when the activator's fixed ports or
// the autoscaler's are taken.
func checkPorts() error {
	var busy []string
	for _, port := range activatorPorts {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			busy = append(busy, strconv.Itoa(port))
			continue
		}
		l.Close()
	}
	if l, err := net.Listen("tcp", AutoscalerAddr); err != nil {
		busy = append(busy, "8080")
	} else {
		l.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("ports %s are in use: the activator listens on 8012, 8013 and 8008 and dials the autoscaler on 8080 (fixed by Knative); stop what uses them (another plane? `ss -ltnp`)", strings.Join(busy, ", "))
	}
	return nil
}

// configure points Knative's tracing at the Collector in both namespaces
// and sets the queue-proxy image when it is a ko:// image.
func (p *Plane) configure(ctx context.Context) error {
	if p.cfg.samplingRate != "" {
		data := map[string]string{
			"tracing-protocol":      "grpc",
			"tracing-endpoint":      p.TracingEndpoint,
			"tracing-sampling-rate": p.cfg.samplingRate,
		}
		for _, ns := range []string{ServingNamespace, EventingNamespace} {
			if err := p.PatchConfigMap(ctx, ns, "config-observability", data); err != nil {
				return err
			}
		}
	}
	if strings.HasPrefix(p.cfg.queueProxy, KoPrefix) {
		if err := p.PatchConfigMap(ctx, ServingNamespace, "config-deployment", map[string]string{"queue-sidecar-image": ResolveKo(p.cfg.queueProxy)}); err != nil {
			return err
		}
	}
	return nil
}

// PatchConfigMap merges data into a ConfigMap (a JSON merge patch).
func (p *Plane) PatchConfigMap(ctx context.Context, ns, name string, data map[string]string) error {
	body, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	if _, err := p.kube.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch ConfigMap %s/%s: %w", ns, name, err)
	}
	return nil
}

func (p *Plane) startActivator(bin string) error {
	env := []string{
		pathEnv, "HOME=/root",
		"KUBECONFIG=" + p.API.Kubeconfig,
		"SYSTEM_NAMESPACE=" + ServingNamespace,
		"POD_NAME=activator-kntrace-local",
		"POD_IP=127.0.0.1",
		"CONTAINER_NAME=activator",
	}
	wrapper := append(mountWrapper(p.hosts.path), append([]string{"env", "-i"}, env...)...)
	var err error
	p.activator, err = proc.Start("activator", bin, nil, proc.WithWrapper(wrapper...), proc.WithLogDir(p.Dir), proc.WithGrace(3*time.Second))
	if err != nil {
		return err
	}
	probe := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ActivatorAddr+"/healthz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/1.35")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("activator health: %s", resp.Status)
		}
		return nil
	}
	return p.activator.WaitFor(p.cfg.readyTO, "activator ready (health probe 200, autoscaler connected)", probe)
}

// Stop stops everything the plane started, in reverse order, and removes
// its network namespaces and links. It is safe to call more than once.
func (p *Plane) Stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		if p.ingress != nil {
			p.ingress.stop()
		}
		if p.eventing != nil {
			p.eventing.stop()
		}
		if p.pods != nil {
			p.pods.stopAll(p.cfg.stopGrace)
		}
		if p.activator != nil {
			p.activator.Stop()
		}
		if p.auto != nil {
			p.auto.stop()
		}
		if p.controller != nil {
			p.controller.stop()
		}
		for _, f := range p.forwarders {
			f.stop()
		}
		if p.Backends != nil {
			p.Backends.Stop()
		}
		if p.API != nil {
			p.API.Stop()
		}
		if p.lock != nil {
			cleanStale()
		}
		p.lock.Release()
		if p.own && os.Getenv("KNTRACE_KEEP_STATE") == "" {
			_ = os.RemoveAll(p.Dir)
		}
	})
}

// Apply applies Kubernetes objects from YAML (e.g. a sample's
// service.yaml, unchanged), resolving ko:// images as `ko apply` does
// (see ResolveKo).
func (p *Plane) Apply(ctx context.Context, yaml []byte) error {
	objs, err := manifests.Decode(yaml)
	if err != nil {
		return err
	}
	// Like ko apply: build every ko:// image first, then apply.
	for _, o := range objs {
		for _, img := range resolveKoImages(o.Object) {
			if _, err := p.ko.binary(ctx, img); err != nil {
				return err
			}
		}
	}
	a, err := manifests.NewApplier(p.API.Config)
	if err != nil {
		return err
	}
	return a.Apply(ctx, objs)
}

// ApplyFile applies the objects in a YAML file.
func (p *Plane) ApplyFile(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return p.Apply(ctx, b)
}

// WaitServiceReady waits until the Knative Service is Ready with a latest
// ready revision, and returns it.
func (p *Plane) WaitServiceReady(ctx context.Context, ns, name string, timeout time.Duration) (*v1.Service, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		svc, err := p.Serving.ServingV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			c := svc.Status.GetCondition(apis.ConditionReady)
			if c.IsTrue() && svc.Status.LatestReadyRevisionName != "" && svc.Status.ObservedGeneration == svc.Generation {
				return svc, nil
			}
			last = fmt.Sprintf("Ready condition %+v", c)
		} else {
			last = err.Error()
		}
		if cerr, ok := p.controller.lastError(types.NamespacedName{Namespace: ns, Name: name}); ok && cerr != nil {
			last = cerr.Error()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("Knative Service %s/%s not ready within %s (last: %s)", ns, name, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ScaleTo sets the number of pods of a revision (the autoscaler may change
// it again: from zero on demand, to zero when idle).
func (p *Plane) ScaleTo(ctx context.Context, ns, rev string, n int) error {
	key := types.NamespacedName{Namespace: ns, Name: rev}
	if n > 0 {
		p.auto.touch(key)
	}
	return p.pods.scale(ctx, key, n)
}

// WaitPods waits until revision rev runs exactly n ready pods.
func (p *Plane) WaitPods(ctx context.Context, ns, rev string, n int, timeout time.Duration) ([]Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	key := types.NamespacedName{Namespace: ns, Name: rev}
	for {
		pods := p.pods.pods(key)
		if len(pods) == n {
			return pods, nil
		}
		select {
		case <-ctx.Done():
			return pods, fmt.Errorf("revision %s/%s: %d pods, want %d, after %s", ns, rev, len(pods), n, timeout)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Pods returns the running pods of a revision.
func (p *Plane) Pods(ns, rev string) []Pod {
	return p.pods.pods(types.NamespacedName{Namespace: ns, Name: rev})
}

// StatMessages is the number of stat messages the autoscaler endpoint has
// received from the activator.
func (p *Plane) StatMessages() int { return p.auto.statCount() }

// Jaeger dials Jaeger's query API (close the client when done).
func (p *Plane) Jaeger(ctx context.Context) (*jaeger.Client, error) {
	return jaeger.Dial(ctx, p.Backends.Jaeger.QueryGRPC)
}

// ActivatorLogPath is the activator's log file.
func (p *Plane) ActivatorLogPath() string { return p.activator.LogPath }

// NewRequest returns a request to Knative Service svc in ns through the
// ingress (Host <svc>.<ns>.svc.cluster.local).
func (p *Plane) NewRequest(ctx context.Context, method, ns, svc, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.IngressURL+path, body)
	if err != nil {
		return nil, err
	}
	req.Host = svc + "." + ns + ".svc.cluster.local"
	return req, nil
}
