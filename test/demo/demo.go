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

package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/plane"
)

// kntrace's own data-plane builds, built from source as `ko apply` would.
const (
	Activator  = "ko://github.com/kntrace/kntrace/cmd/activator"
	QueueProxy = "ko://github.com/kntrace/kntrace/cmd/queue"
)

type config struct {
	wait  bool
	width int
}

// Option configures Run.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithoutWaiting returns once everything is shown instead of keeping Jaeger
// up until the context ends (for a non-interactive run).
func WithoutWaiting() Option { return optionFunc(func(c *config) { c.wait = false }) }

// WithWidth sets the waterfall's width in columns.
func WithWidth(n int) Option { return optionFunc(func(c *config) { c.width = n }) }

// Run starts the local Knative plane with kntrace's activator and
// queue-proxy, deploys the samples, sends a cold-start request with B3
// headers and an event through a broker, and prints each trace as a
// waterfall. Unless WithoutWaiting is given it then keeps Jaeger's query API
// up until ctx ends; everything is stopped before it returns.
func Run(ctx context.Context, out io.Writer, opts ...Option) error {
	cfg := config{wait: true, width: 120}
	for _, o := range opts {
		o.apply(&cfg)
	}
	d := &demo{out: out, cfg: cfg}
	return d.run(ctx)
}

type demo struct {
	out io.Writer
	cfg config
	p   *plane.Plane
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n==> "+format+"\n", args...)
}

// kn runs `kn trace ARGS` against the plane and returns its exit code.
func (d *demo) kn(ctx context.Context, args ...string) int {
	fmt.Fprintf(d.out, "\n$ kn trace %s\n", strings.Join(args, " "))
	code := cli.Execute(ctx, append(args, "--kubeconfig", d.p.API.Kubeconfig), cli.Streams{In: strings.NewReader(""), Out: d.out, Err: d.out})
	if code != 0 {
		fmt.Fprintf(d.out, "(exit status %d)\n", code)
	}
	return code
}

func (d *demo) run(ctx context.Context) (err error) {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	d.step("starting a local Knative 1.23 plane: etcd, kube-apiserver, Knative's CRDs and ConfigMaps, the Collector, Jaeger,\n    kntrace's activator and queue-proxy, the broker and channel; pods run as processes in network namespaces")
	d.p, err = plane.Start(ctx, plane.WithActivator(Activator), plane.WithQueueProxy(QueueProxy), plane.WithEventing(),
		plane.WithOutput(d.out), plane.WithIdleTimeout(time.Hour))
	if err != nil {
		return err
	}
	defer d.p.Stop()
	jaegerAddr := d.p.Backends.Jaeger.QueryGRPC
	jc, err := d.p.Jaeger(ctx)
	if err != nil {
		return err
	}
	defer jc.Close()

	d.step("Knative's tracing configuration, as kntrace reads it")
	d.kn(ctx, "config", "show", "--serving")
	d.step("an endpoint Knative's own webhook accepts but that crash-loops every component is refused; nothing is written")
	if code := d.kn(ctx, "config", "set", "--serving", "--endpoint", "10.0.0.1:4317"); code != cli.ExitRefused {
		return fmt.Errorf("the crash-causing endpoint was not refused (exit %d)", code)
	}

	d.step("deploying samples/helloworld (helloworld calls greeter), unchanged, with kntrace.dev/inject annotations")
	if err := d.p.ApplyFile(ctx, filepath.Join(root, "samples", "helloworld", "service.yaml")); err != nil {
		return err
	}
	for _, svc := range []string{"helloworld", "greeter"} {
		if _, err := d.p.WaitServiceReady(ctx, "default", svc, 5*time.Minute); err != nil {
			return err
		}
		if err := d.scaleToZero(ctx, svc); err != nil {
			return err
		}
	}

	d.step("a request with B3 headers only (as Zipkin or an older Istio sends) while both revisions are at zero")
	traceID, err := d.request(ctx, "helloworld", "/", "b3")
	if err != nil {
		return err
	}
	if err := d.showTrace(ctx, jc, jaegerAddr, traceID, "activator", "helloworld", "greeter"); err != nil {
		return err
	}

	d.step("deploying samples/eventing: producer → Broker → Trigger → consumer (consumer at zero)")
	if err := d.p.ApplyFile(ctx, filepath.Join(root, "samples", "eventing", "service.yaml")); err != nil {
		return err
	}
	if err := d.p.WaitEventingReady(ctx, "default", 3*time.Minute); err != nil {
		return err
	}
	for _, svc := range []string{"producer", "consumer"} {
		if _, err := d.p.WaitServiceReady(ctx, "default", svc, 5*time.Minute); err != nil {
			return err
		}
	}
	if err := d.scaleToZero(ctx, "consumer"); err != nil {
		return err
	}
	d.step("a request to the producer, which sends a CloudEvent through the broker to the consumer, cold")
	eventTrace, err := d.request(ctx, "producer", "/", "w3c")
	if err != nil {
		return err
	}
	if err := d.showTrace(ctx, jc, jaegerAddr, eventTrace, "producer", "consumer"); err != nil {
		return err
	}

	d.step("recent traces of helloworld")
	d.kn(ctx, "list", "helloworld", "--jaeger", jaegerAddr)

	if !d.cfg.wait {
		return nil
	}
	d.step("Jaeger's query API stays up: gRPC %s, HTTP http://%s/api/traces?service=helloworld\n    try: kn trace get %s --jaeger %s\n    Ctrl-C stops everything", jaegerAddr, d.p.Backends.Jaeger.QueryHTTP, traceID, jaegerAddr)
	<-ctx.Done()
	fmt.Fprintln(d.out, "\nstopping the plane…")
	return nil
}

func (d *demo) scaleToZero(ctx context.Context, svc string) error {
	rev := svc + "-00001"
	if err := d.p.ScaleTo(ctx, "default", rev, 0); err != nil {
		return err
	}
	_, err := d.p.WaitPods(ctx, "default", rev, 0, time.Minute)
	return err
}

// request sends GET with a new trace context in the given format and prints
// the status and the time to first byte.
func (d *demo) request(ctx context.Context, svc, path, format string) (string, error) {
	traceID, spanID := randomHex(16), randomHex(8)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := d.p.NewRequest(rctx, http.MethodGet, "default", svc, path, nil)
	if err != nil {
		return "", err
	}
	switch format {
	case "b3":
		req.Header.Set("X-B3-TraceId", traceID)
		req.Header.Set("X-B3-SpanId", spanID)
		req.Header.Set("X-B3-Sampled", "1")
		fmt.Fprintf(d.out, "    X-B3-TraceId: %s\n    X-B3-SpanId: %s\n    X-B3-Sampled: 1\n", traceID, spanID)
	default:
		req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
		fmt.Fprintf(d.out, "    traceparent: 00-%s-%s-01\n", traceID, spanID)
	}
	var first time.Time
	req = req.WithContext(httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}))
	start := time.Now()
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s%s: %w", svc, path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	fmt.Fprintf(d.out, "    %s %q, time to first byte %s (cold start)\n", resp.Status, strings.TrimSpace(string(body)), first.Sub(start).Round(time.Millisecond))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("GET %s%s: %s", svc, path, resp.Status)
	}
	return traceID, nil
}

// showTrace waits until Jaeger holds the trace with its cold start and
// spans from every one of services, and no more spans arrive for a second
// (spans come through relays and the Collector's batches), then prints it
// with `kn trace get`.
func (d *demo) showTrace(ctx context.Context, jc *jaeger.Client, jaegerAddr, traceID string, services ...string) error {
	const timeout = 90 * time.Second
	deadline := time.Now().Add(timeout)
	spans, stable := -1, 0
	var missing []string
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		raw, err := jc.GetTrace(qctx, traceID)
		cancel()
		switch {
		case err == nil:
			tr, berr := jaeger.Build(raw)
			if berr != nil {
				return berr
			}
			missing = missingServices(tr, services)
			if len(missing) == 0 && tr.ColdStart != nil && tr.SpanCount == spans {
				stable++
			} else {
				stable = 0
			}
			spans = tr.SpanCount
		case !errors.Is(err, jaeger.ErrNotFound):
			return err
		}
		if stable >= 5 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trace %s: not complete in Jaeger within %s (%d spans; no spans yet from %v)", traceID, timeout, spans, missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if code := d.kn(ctx, "get", traceID, "--jaeger", jaegerAddr, "--width", fmt.Sprint(d.cfg.width)); code != 0 {
		return fmt.Errorf("kn trace get %s exited %d", traceID, code)
	}
	return nil
}

func missingServices(tr *jaeger.Trace, want []string) []string {
	have := map[string]bool{}
	for _, s := range tr.Services {
		have[s] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	return missing
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// repoRoot finds the checkout, where the samples' YAML lives.
func repoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "samples", "helloworld", "service.yaml")); err == nil {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", ".."), nil
	}
	return "", errors.New("cannot find the kntrace checkout (samples/): run the demo from it")
}
