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
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/test/cluster"
)

// Defaults.
const (
	// DefaultLockWait bounds the wait for a cluster test that holds the
	// machine's one cluster: the demo queues behind it.
	DefaultLockWait = 60 * time.Minute
	// DefaultWidth is the waterfall's width in columns.
	DefaultWidth = 120
)

// The samples, deployed with ko from the kntrace checkout as a user would.
const (
	sampleNS         = "default"
	helloworldSample = "samples/helloworld/service.yaml"
	eventingSample   = "samples/eventing/service.yaml"
)

type config struct {
	wait     bool
	width    int
	lockWait time.Duration
}

// Option configures Run.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithoutWaiting returns once everything is shown instead of keeping the
// cluster up until the context ends (for a non-interactive run).
func WithoutWaiting() Option { return optionFunc(func(c *config) { c.wait = false }) }

// WithWidth sets the waterfall's width in columns.
func WithWidth(n int) Option { return optionFunc(func(c *config) { c.width = n }) }

// WithLockWait bounds the wait for another cluster on the machine (a
// cluster test) to stop (default DefaultLockWait).
func WithLockWait(d time.Duration) Option { return optionFunc(func(c *config) { c.lockWait = d }) }

// Run boots the local single-node Kubernetes cluster of test/cluster with
// Knative Serving, Traefik, kntrace and Knative Eventing, shows Knative's
// tracing configuration with kn trace, deploys the samples with ko, sends a
// request with B3 headers to helloworld and one with a W3C traceparent to
// the eventing producer while their revisions are at zero, and prints each
// trace as a waterfall with kn trace. Unless WithoutWaiting is given it then
// prints how to use the cluster and keeps it, and a tunnel to Jaeger's UI,
// until ctx ends. The cluster is stopped and everything it made removed
// before Run returns.
func Run(ctx context.Context, out io.Writer, opts ...Option) error {
	cfg := config{wait: true, width: DefaultWidth, lockWait: DefaultLockWait}
	for _, o := range opts {
		o.apply(&cfg)
	}
	d := &demo{out: out, cfg: cfg}
	return d.run(ctx)
}

type demo struct {
	out io.Writer
	cfg config
	c   *cluster.Cluster
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n==> "+format+"\n", args...)
}

// kn runs `kn trace ARGS` against the cluster, as the kn-trace plugin
// would, and returns its exit code.
func (d *demo) kn(ctx context.Context, args ...string) int {
	fmt.Fprintf(d.out, "\n$ kn trace %s\n", strings.Join(args, " "))
	code := cli.Execute(ctx, append(args, "--kubeconfig", d.c.Kubeconfig), cli.Streams{In: strings.NewReader(""), Out: d.out, Err: d.out})
	if code != 0 {
		fmt.Fprintf(d.out, "(exit status %d)\n", code)
	}
	return code
}

func (d *demo) run(ctx context.Context) (err error) {
	d.step("starting a single-node Kubernetes 1.35 cluster on this machine: etcd, the control plane, the kubelet and\n    kube-proxy, containerd, a registry on loopback and CoreDNS (it waits while a cluster test holds the machine)")
	d.c, err = cluster.Start(ctx, cluster.WithOutput(d.out), cluster.WithLockWait(d.cfg.lockWait))
	if err != nil {
		return err
	}
	defer d.c.Stop()
	for _, s := range []struct {
		what    string
		install func(context.Context) error
	}{
		{"installing Knative Serving v0.50.0 from its own release YAML, its images built by ko", d.c.InstallServing},
		{"starting Traefik v3.6.12 with its Knative provider as the ingress", d.c.InstallTraefik},
		{"installing kntrace as docs/install.md says: ko apply -Rf config/, the activator and queue-proxy overlays", d.c.InstallKntrace},
		{"installing Knative Eventing v0.50.0: the in-memory channel and the MT channel broker", d.c.InstallEventing},
	} {
		d.step("%s", s.what)
		if err := s.install(ctx); err != nil {
			return err
		}
	}

	d.step("Knative's tracing configuration, as kntrace reads it")
	d.kn(ctx, "config", "show", "--serving")
	// Both namespaces: kntrace's controller keeps them as config-kntrace
	// says (manage-knative-config), and kn trace refuses --serving alone.
	d.step("an endpoint Knative's own webhook accepts but that crash-loops every component is refused; nothing is written")
	if code := d.kn(ctx, "config", "set", "--endpoint", "10.0.0.1:4317"); code != cli.ExitRefused {
		return fmt.Errorf("the crash-causing endpoint was not refused (exit %d, want %d)", code, cli.ExitRefused)
	}

	helloTrace, err := d.helloworld(ctx)
	if err != nil {
		return err
	}
	if err := d.eventing(ctx); err != nil {
		return err
	}

	d.step("recent traces of helloworld")
	if code := d.kn(ctx, "list", "helloworld"); code != 0 {
		return fmt.Errorf("kn trace list helloworld exited %d", code)
	}

	if !d.cfg.wait {
		return nil
	}
	return d.serve(ctx, helloTrace)
}

// helloworld deploys samples/helloworld, lets both of its Services scale
// to zero and sends one request with B3 headers; it returns the trace ID.
func (d *demo) helloworld(ctx context.Context) (string, error) {
	d.step("deploying samples/helloworld (helloworld calls greeter), unchanged, with kntrace.dev/inject annotations:\n    ko apply -f %s", helloworldSample)
	if err := d.koApply(ctx, helloworldSample); err != nil {
		return "", err
	}
	start := time.Now()
	if err := d.waitServicesReady(ctx, "helloworld", "greeter"); err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "    helloworld and greeter Ready in %s\n", since(start))
	if err := d.waitAtZero(ctx, "helloworld", "greeter"); err != nil {
		return "", err
	}
	d.step("a request with B3 headers only (as Zipkin or an older Istio sends) through Traefik, while both revisions are at zero")
	traceID, err := d.request(ctx, "helloworld", b3Multi)
	if err != nil {
		return "", err
	}
	if err := d.showTrace(ctx, traceID, "activator", "helloworld", "greeter"); err != nil {
		return "", err
	}
	return traceID, nil
}

// eventing deploys samples/eventing, waits for its Broker and Trigger and
// both Services at zero, and sends one request with a W3C traceparent to
// the producer.
func (d *demo) eventing(ctx context.Context) error {
	d.step("deploying samples/eventing: producer → Broker → Trigger → consumer:\n    ko apply -f %s", eventingSample)
	if err := d.koApply(ctx, eventingSample); err != nil {
		return err
	}
	start := time.Now()
	if err := d.waitServicesReady(ctx, "producer", "consumer"); err != nil {
		return err
	}
	if err := d.waitEventingReady(ctx, "default", "consumer"); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "    producer, consumer, Broker default and Trigger consumer Ready in %s\n", since(start))
	if err := d.waitAtZero(ctx, "producer", "consumer"); err != nil {
		return err
	}
	d.step("a request with a W3C traceparent to the producer through Traefik, which sends a CloudEvent through the\n    broker to the consumer; both revisions are at zero")
	traceID, err := d.request(ctx, "producer", w3c)
	if err != nil {
		return err
	}
	return d.showTrace(ctx, traceID, "producer", "consumer")
}

// koApply runs `ko apply -f FILE` from the kntrace checkout with the
// cluster's registry and kubeconfig, as a user of the cluster would.
func (d *demo) koApply(ctx context.Context, file string) error {
	start := time.Now()
	if _, err := d.c.Ko(ctx, "kntrace", "apply", "-f", file); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "    applied in %s\n", since(start))
	return nil
}

// waitServicesReady waits until the Knative Services are Ready and Traefik
// routes the first; it sends them no request.
func (d *demo) waitServicesReady(ctx context.Context, services ...string) error {
	for _, svc := range services {
		if err := d.c.WaitServiceReady(ctx, sampleNS, svc, 3*time.Minute); err != nil {
			return err
		}
	}
	return d.c.WaitRoute(ctx, sampleNS, services[0], time.Minute)
}

// waitAtZero waits until none of the Knative Services has a pod left: the
// cluster's autoscaler scales a revision to zero about 35 s after its last
// request.
func (d *demo) waitAtZero(ctx context.Context, services ...string) error {
	fmt.Fprintf(d.out, "    waiting for scale to zero…\n")
	start := time.Now()
	selector := "serving.knative.dev/service in (" + strings.Join(services, ",") + ")"
	if err := d.c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "    no pod left after %s\n", since(start))
	return nil
}

// since is the time since start, rounded for the demo's output.
func since(start time.Time) time.Duration { return time.Since(start).Round(100 * time.Millisecond) }
