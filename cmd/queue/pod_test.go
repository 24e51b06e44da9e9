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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/configmap"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	cfgresources "knative.dev/serving/pkg/reconciler/configuration/resources"
	revconfig "knative.dev/serving/pkg/reconciler/revision/config"
	"knative.dev/serving/pkg/reconciler/revision/resources"
	svcresources "knative.dev/serving/pkg/reconciler/service/resources"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/test/proc"
)

// Names of the test revision.
const (
	testNamespace = "demo"
	testService   = "hello"
	testRevision  = "hello-00001"
	appService    = "hello-app" // OTEL_SERVICE_NAME of the app
)

// revisionSpec is what a test varies in the revision and the ConfigMaps.
type revisionSpec struct {
	observability map[string]string // config-observability data
	annotations   map[string]string // on the revision template
	concurrency   int64
}

// podSpec is a revision pod as Knative's revision reconciler would make it.
type podSpec struct {
	queue       corev1.Container
	app         corev1.Container
	annotations map[string]string
}

// makePod builds the pod with Knative's own code: the ConfigMaps Knative
// Serving v0.50.0 ships (config-observability, config-features and
// config-deployment changed as the test says), a Service defaulted as the
// webhook would, its Configuration and Revision from Knative's
// reconcilers' resources code, and resources.MakeDeployment.
func makePod(t testing.TB, rs revisionSpec) podSpec {
	t.Helper()
	ctx := context.Background()
	serving, err := manifests.ModuleDir(ctx, "knative.dev/serving", "")
	if err != nil {
		t.Fatal(err)
	}
	networking, err := manifests.ModuleDir(ctx, "knative.dev/networking", "")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(serving, "config", "core", "configmaps", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(networking, "config", "config-network.yaml"))
	var cms []*corev1.ConfigMap
	for _, f := range files {
		objs, err := manifests.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() != "ConfigMap" {
				continue
			}
			b, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var cm corev1.ConfigMap
			if err := yaml.Unmarshal(b, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			switch cm.Name {
			case "config-observability":
				for k, v := range rs.observability {
					cm.Data[k] = v
				}
			case "config-features":
				cm.Data["queueproxy.mount-podinfo"] = "allowed"
			case "config-deployment":
				cm.Data["queue-sidecar-image"] = "queue"
			}
			cms = append(cms, &cm)
		}
	}
	store := revconfig.NewStore(testLogger{t})
	store.WatchConfigs(configmap.NewStaticWatcher(cms...))
	cfg := store.Load()
	cctx := store.ToContext(ctx)

	annotations := map[string]string{"features.knative.dev/queueproxy-podinfo": "enabled"}
	for k, v := range rs.annotations {
		annotations[k] = v
	}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: testService, Namespace: testNamespace, Generation: 1},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec: v1.RevisionSpec{
				ContainerConcurrency: &rs.concurrency,
				PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
					Image: "app",
					Env: []corev1.EnvVar{
						{Name: "OTEL_SERVICE_NAME", Value: appService},
						{Name: "OTEL_BSP_SCHEDULE_DELAY", Value: "100"},
						// What kntrace's webhook injects (conventions.RelayEndpoint).
						{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: conventions.RelayEndpoint},
					},
				}}},
			},
		}}},
	}
	svc.SetDefaults(cctx)
	// Warnings (insecure securityContext defaults) are not errors.
	if err := svc.Validate(cctx).Filter(apis.ErrorLevel); err != nil {
		t.Fatalf("Knative refuses the test Service: %v", err)
	}
	c := svcresources.MakeConfiguration(svc)
	c.Generation = 1
	rev := cfgresources.MakeRevision(cctx, c, time.Now())
	rev.Name, rev.UID = testRevision, types.UID("6a1c2f0e-0000-4000-8000-000000000001")
	// Knative's controller runs with SYSTEM_NAMESPACE from the downward API.
	t.Setenv("SYSTEM_NAMESPACE", "knative-serving")
	d, err := resources.MakeDeployment(rev, cfg)
	if err != nil {
		t.Fatalf("Knative's revision resources: %v", err)
	}
	p := podSpec{annotations: d.Spec.Template.Annotations}
	for _, ctr := range d.Spec.Template.Spec.Containers {
		switch ctr.Name {
		case "queue-proxy":
			p.queue = ctr
		default:
			p.app = ctr
		}
	}
	if p.queue.Name == "" || p.app.Name == "" {
		t.Fatalf("pod of %d containers, want queue-proxy and the app", len(d.Spec.Template.Spec.Containers))
	}
	return p
}

type testLogger struct{ t testing.TB }

func (l testLogger) Debugf(string, ...any) {}
func (l testLogger) Infof(string, ...any)  {}
func (l testLogger) Errorf(f string, a ...any) {
	l.t.Errorf("Knative config store: "+f, a...)
}
func (l testLogger) Fatalf(f string, a ...any) { l.t.Fatalf("Knative config store: "+f, a...) }

// env resolves a container's environment as a kubelet would for this pod.
func env(t testing.TB, c corev1.Container, podName, podIP, hostIP string) []string {
	t.Helper()
	out := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOSTNAME=" + podName}
	for _, e := range c.Env {
		v := e.Value
		if f := e.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil:
				switch f.FieldRef.FieldPath {
				case "metadata.name":
					v = podName
				case "metadata.namespace":
					v = testNamespace
				case "status.podIP", "status.podIPs":
					v = podIP
				case "status.hostIP", "status.hostIPs":
					v = hostIP
				case "metadata.uid":
					v = "7f3e1c2a-0000-4000-8000-000000000002"
				default:
					t.Fatalf("env %s: fieldRef %s not handled by the test", e.Name, f.FieldRef.FieldPath)
				}
			case f.ResourceFieldRef != nil:
				v = "0"
			default:
				t.Fatalf("env %s: valueFrom not handled by the test", e.Name)
			}
		}
		out = append(out, e.Name+"="+v)
	}
	return out
}

// downwardAnnotations formats annotations as the downward API writes them.
func downwardAnnotations(a map[string]string) []byte {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, a[k])
	}
	return []byte(b.String())
}

// netns is a network namespace with a veth pair: host side
// 10.213.(128+slot).1/30, pod side .2/30. A flock on a file per slot keeps
// concurrent test processes apart and lets a later run remove what a killed
// one left.
type netns struct {
	name           string
	hostIP, podIP  string
	hostLink, lock string
	lockFile       *os.File
}

const maxSlots = 64

func newNetns(t testing.TB) *netns {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the process tests need iproute2's ip (run `make tools` / hack/apt.sh) and root")
	}
	for slot := range maxSlots {
		lock := filepath.Join(os.TempDir(), "kntrace-q-"+strconv.Itoa(slot)+".lock")
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		n := &netns{
			name:     "kntrace-q-" + strconv.Itoa(slot),
			hostIP:   fmt.Sprintf("10.213.%d.1", 128+slot),
			podIP:    fmt.Sprintf("10.213.%d.2", 128+slot),
			hostLink: "kq" + strconv.Itoa(slot) + "h",
			lock:     lock,
			lockFile: f,
		}
		t.Cleanup(n.release)
		n.cleanup() // left by a killed run that held this slot
		t.Cleanup(n.cleanup)
		podLink := "kq" + strconv.Itoa(slot) + "p"
		for _, args := range [][]string{
			{"netns", "add", n.name},
			{"link", "add", n.hostLink, "type", "veth", "peer", "name", podLink, "netns", n.name},
			{"addr", "add", n.hostIP + "/30", "dev", n.hostLink},
			{"link", "set", n.hostLink, "up"},
			{"-n", n.name, "addr", "add", n.podIP + "/30", "dev", podLink},
			{"-n", n.name, "link", "set", podLink, "up"},
			{"-n", n.name, "link", "set", "lo", "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		return n
	}
	t.Fatalf("no free network namespace slot among %d", maxSlots)
	return nil
}

func (n *netns) cleanup() {
	_ = exec.Command("ip", "netns", "del", n.name).Run()
	_ = exec.Command("ip", "link", "del", n.hostLink).Run()
}

// release gives the slot back (after cleanup, registered before it).
func (n *netns) release() {
	if n.lockFile != nil {
		n.lockFile.Close()
	}
}

// forwarder accepts TCP on the host side of a pod's veth and relays each
// connection to a loopback address: how pods reach the Collector.
type forwarder struct {
	ln   net.Listener
	to   string
	sent atomic.Int64 // bytes from pods towards to
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[net.Conn]struct{}
}

func newForwarder(t testing.TB, listenIP, to string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, to: to, conn: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *forwarder) Addr() string { return f.ln.Addr().String() }

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			up, err := net.DialTimeout("tcp", f.to, 2*time.Second)
			if err != nil {
				return
			}
			defer up.Close()
			f.track(c, up)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(counting{up, &f.sent}, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done
			c.Close()
			up.Close()
			<-done
		}()
	}
}

// counting counts the bytes written to w.
type counting struct {
	w io.Writer
	n *atomic.Int64
}

func (c counting) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (f *forwarder) track(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		f.conn[c] = struct{}{}
	}
}

func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conn {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// pod is a running revision pod: the app and a queue-proxy binary in their
// own network namespace, with the environment Knative's code gave them.
type pod struct {
	ns      *netns
	spec    podSpec
	app     *proc.Process
	queue   *proc.Process
	started time.Time
	ready   time.Time
	client  *http.Client

	run      func(name, bin string, env []string) *proc.Process
	queueEnv []string
	queueBin string
	appBin   string
}

// podOptions vary how a pod starts.
type podOptions struct {
	queueBinary string
	appBinary   string
	// appFirst starts the app and waits for it before the queue-proxy, so
	// that ready-started measures the queue-proxy alone.
	appFirst bool
	grace    time.Duration
	// appEnv is added to the app's environment, after (so over) what
	// Knative's code gives it.
	appEnv []string
}

func startPod(t testing.TB, ns *netns, spec podSpec, o podOptions) *pod {
	t.Helper()
	p := &pod{ns: ns, spec: spec, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(p.client.CloseIdleConnections)
	dir := t.TempDir()
	podName := testRevision + "-deployment-5d8f7c9b4-x2x7q"
	info := filepath.Join(dir, "annotations")
	if err := os.WriteFile(info, downwardAnnotations(spec.annotations), 0o644); err != nil {
		t.Fatal(err)
	}
	grace := o.grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	run := func(name, bin string, env []string) *proc.Process {
		wrapper := append([]string{"ip", "netns", "exec", ns.name, "env", "-i"}, env...)
		pr, err := proc.Start(name, bin, nil, proc.WithWrapper(wrapper...), proc.WithLogDir(dir), proc.WithGrace(grace))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { killIfRunning(pr) })
		return pr
	}
	appEnv := append(env(t, spec.app, podName, ns.podIP, ns.hostIP), o.appEnv...)
	queueEnv := append(env(t, spec.queue, podName, ns.podIP, ns.hostIP), "KNTRACE_PODINFO_ANNOTATIONS="+info)
	p.run, p.queueEnv, p.queueBin, p.appBin = run, queueEnv, o.queueBinary, o.appBinary
	if o.appFirst {
		p.app = run("app", o.appBinary, appEnv)
		if err := p.app.WaitFor(20*time.Second, "app listening", proc.TCPReady(net.JoinHostPort(ns.podIP, containerPort(spec.app)))); err != nil {
			t.Fatal(err)
		}
		p.started = time.Now()
		p.queue = run("queue-proxy", o.queueBinary, queueEnv)
	} else {
		p.started = time.Now()
		p.queue = run("queue-proxy", o.queueBinary, queueEnv)
		p.app = run("app", o.appBinary, appEnv)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("queue-proxy log (%s):\n%s\napp log:\n%s", p.queue.Name, p.queue.LogTail(15), p.app.LogTail(15))
		}
	})
	if err := p.queue.WaitFor(30*time.Second, "readiness probe passes", p.probe); err != nil {
		t.Fatal(err)
	}
	p.ready = time.Now()
	return p
}

// restartQueue kills the queue-proxy, starts it again and returns the time
// from its start to the first passing readiness probe, polled every
// millisecond (the app keeps running).
func (p *pod) restartQueue(t testing.TB) time.Duration {
	t.Helper()
	killIfRunning(p.queue)
	p.client.CloseIdleConnections()
	start := time.Now()
	p.queue = p.run("queue-proxy", p.queueBin, p.queueEnv)
	deadline := start.Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := p.probe(ctx)
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if exited, perr := p.queue.Exited(); exited {
			t.Fatalf("queue-proxy exited before ready (%v); log:\n%s", perr, p.queue.LogTail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue-proxy not ready within 30 s (%v); log:\n%s", err, p.queue.LogTail(20))
		}
		time.Sleep(time.Millisecond)
	}
}

// killIfRunning SIGKILLs p's group unless p has exited: after an exit its
// process group id may belong to another process by now.
func killIfRunning(p *proc.Process) {
	if exited, _ := p.Exited(); !exited {
		p.Kill()
	}
}

func containerPort(c corev1.Container) string {
	if len(c.Ports) == 0 {
		return "8080"
	}
	return strconv.Itoa(int(c.Ports[0].ContainerPort))
}

// probe is the kubelet's readiness probe of the queue-proxy container.
func (p *pod) probe(ctx context.Context) error {
	get := p.spec.queue.ReadinessProbe.HTTPGet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(p.ns.podIP, get.Port.String())+get.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.35")
	for _, h := range get.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// url is the queue-proxy's serving port.
func (p *pod) url(path string) string {
	for _, e := range p.spec.queue.Env {
		if e.Name == "QUEUE_SERVING_PORT" {
			return "http://" + net.JoinHostPort(p.ns.podIP, e.Value) + path
		}
	}
	return "http://" + net.JoinHostPort(p.ns.podIP, "8012") + path
}

// getPath sends one request through the queue-proxy.
func (p *pod) getPath(ctx context.Context, path string, header map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url(path), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		return resp, fmt.Errorf("status %d body %q, want 200 hello", resp.StatusCode, body)
	}
	return resp, nil
}

// terminate sends SIGTERM to both containers, as the kubelet does.
func (p *pod) terminate() error {
	return errors.Join(p.queue.Signal(syscall.SIGTERM), p.app.Signal(syscall.SIGTERM))
}
