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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/revisions"
)

// The sample's two Knative Services: helloworld calls greeter.
const (
	sampleNS      = "default"
	sampleFront   = "helloworld"
	sampleBack    = "greeter"
	sampleWant    = "Hello, Knative!\n"
	queueProxyCtr = "queue-proxy"
	userCtr       = "user-container"
)

// testKntrace installs kntrace as docs/install.md says on a cluster with
// Serving only, deploys the helloworld sample with `ko apply`, checks that
// kntrace's webhook patched it and that its pods run kntrace's
// queue-proxy, lets both Services scale to zero (their containers exit 0)
// and sends one B3 request through Traefik: Jaeger holds one trace under
// the client's trace ID whose every span's parent is in it, and which
// links activator → queue-proxy → helloworld → greeter; once the pods are
// gone again, each pod's spans in Jaeger are as many as its relay says it
// forwarded, none dropped. It returns the trace's ID ("" when it failed
// before sending).
func testKntrace(t *testing.T, c *Cluster) (traceID string) {
	ctx := context.Background()
	// The activator the overlay replaces terminates during the install.
	activatorExits, err := c.WatchExits(ctx, ServingNamespace, "app=activator")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.InstallKntrace(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kntrace installed in %s; memory now %d MiB", time.Since(start).Round(time.Millisecond), c.MemoryRSS()>>20)
	checkExits(t, "Knative's activator replaced by kntrace's", activatorExits, 1)

	selector := "serving.knative.dev/service in (" + sampleFront + "," + sampleBack + ")"
	sampleExits, err := c.WatchExits(ctx, sampleNS, selector)
	if err != nil {
		t.Fatal(err)
	}
	defer sampleExits.Stop()
	if err := c.withToolsLock(ctx, func() error {
		_, err := c.Ko(ctx, "kntrace", "apply", "-f", "samples/helloworld/service.yaml")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	serving := c.servingClient(t)
	for _, name := range []string{sampleFront, sampleBack} {
		if err := c.WaitServiceReady(ctx, sampleNS, name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s and %s Ready %s after ko apply", sampleFront, sampleBack, time.Since(applied).Round(time.Millisecond))

	// The webhook's patch, on the Services and on the pods Knative made.
	queueImage, err := c.queueSidecarImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sampleFront, sampleBack} {
		checkInjected(ctx, t, c, serving, name, queueImage)
	}
	if t.Failed() {
		return ""
	}
	if err := c.WaitRoute(ctx, sampleNS, sampleFront, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	// From zero: no pod of either Service left, and every container of
	// theirs exited 0 (the apps drain their spans at SIGTERM, the
	// queue-proxy its relay).
	if err := c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	checkExits(t, "the sample's pods at scale to zero", sampleExits, 4)

	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	traceID = hex.EncodeToString(raw[:16])
	clientSpan := hex.EncodeToString(raw[16:])
	req, err := c.NewIngressRequest(ctx, http.MethodGet, sampleNS, sampleFront, "/")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("b3", traceID+"-"+clientSpan+"-1")
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(sent)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != sampleWant {
		t.Fatalf("GET %s from zero through Traefik: %s %q; want 200 %q\n%s", sampleFront, resp.Status, body, sampleWant,
			c.DescribePods(ctx, sampleNS, selector))
	}
	t.Logf("from zero through Traefik (b3 single header): %s after %s (time to first byte; %s called %s, both at zero)",
		resp.Status, ttfb.Round(time.Millisecond), sampleFront, sampleBack)

	pods, err := c.servicePods(ctx, sampleNS, sampleFront, sampleBack)
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]*followedLog{}
	for svc, pod := range pods {
		logs[svc] = c.followLog(ctx, sampleNS, pod, queueProxyCtr)
	}
	tr, err := waitTraceTree(ctx, c, jc, traceID, clientSpan, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one trace %s, %d spans:\n%s", traceID, len(tr.Spans), describeHops(tr))

	// One trace: the apps made no other trace for this request.
	for _, svc := range []string{sampleFront, sampleBack} {
		traces, err := jc.FindTraces(ctx, jaeger.Query{Service: svc, StartMin: sent.Add(-time.Second), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range traces {
			if id := other.Spans[0].TraceID.String(); id != traceID {
				t.Errorf("%s has spans in another trace %s since the request:\n%s", svc, id, describeHops(other))
			}
		}
	}
	// Every span each pod exported is in Jaeger: at scale to zero, the
	// queue-proxy's relay reports what it forwarded.
	if err := c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	checkRelayCounts(ctx, t, c, jc, pods, logs, sent.Add(-time.Second), false)
	return traceID
}

// queueSidecarImage is the queue-proxy image config-deployment names (the
// overlay's: kntrace's, by digest in the cluster's registry).
func (c *Cluster) queueSidecarImage(ctx context.Context) (string, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(ServingNamespace).Get(ctx, "config-deployment", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	img := cm.Data["queue-sidecar-image"]
	if !strings.HasPrefix(img, c.Registry.Host+"/kntrace/") {
		return "", fmt.Errorf("config-deployment queue-sidecar-image = %q, want kntrace's (%s/kntrace/…) after the overlay", img, c.Registry.Host)
	}
	return img, nil
}

// checkInjected checks that kntrace's webhook patched the Knative Service
// name (the kntrace.dev/injected record, the podinfo annotation, the
// OpenTelemetry variables pointing the app at the queue-proxy's relay) and
// that its running pod has the variables and runs kntrace's queue-proxy.
func checkInjected(ctx context.Context, t *testing.T, c *Cluster, serving servingclient.Interface, name, queueImage string) {
	t.Helper()
	s, err := serving.ServingV1().Services(sampleNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := s.Spec.Template
	record, ok := tmpl.Annotations[conventions.InjectedAnnotation]
	if !ok {
		t.Errorf("%s: no %s annotation on the revision template: kntrace's webhook did not patch it (annotations %v)", name, conventions.InjectedAnnotation, tmpl.Annotations)
		return
	}
	env, annotations, err := revisions.ParseInjected(record)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if !slices.Contains(annotations, conventions.PodInfoAnnotation) || tmpl.Annotations[conventions.PodInfoAnnotation] != "enabled" {
		t.Errorf("%s: %s = %q (recorded %v), want enabled by the webhook", name, conventions.PodInfoAnnotation, tmpl.Annotations[conventions.PodInfoAnnotation], annotations)
	}
	if len(env) != 1 {
		t.Errorf("%s: the webhook recorded variables for %d containers, want 1: %s", name, len(env), record)
		return
	}
	want := map[string]string{}
	for _, e := range tmpl.Spec.Containers[0].Env {
		if slices.Contains(env[0], e.Name) {
			want[e.Name] = e.Value
		}
	}
	for _, k := range []string{conventions.EnvServiceName, conventions.EnvEndpoint, conventions.EnvSampler, conventions.EnvPropagators} {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: the webhook set no %s (it set %v)", name, k, env[0])
		}
	}
	if got := want[conventions.EnvEndpoint]; got != "http://"+conventions.RelayAddress {
		t.Errorf("%s: %s = %q, want the queue-proxy's relay http://%s (kntrace-queue-proxy: \"true\")", name, conventions.EnvEndpoint, got, conventions.RelayAddress)
	}

	pods, err := c.Client.CoreV1().Pods(sampleNS).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=" + name})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Errorf("%s: no pod right after Ready", name)
		return
	}
	for _, p := range pods.Items {
		var qp, app *corev1.Container
		for i := range p.Spec.Containers {
			switch p.Spec.Containers[i].Name {
			case queueProxyCtr:
				qp = &p.Spec.Containers[i]
			case userCtr:
				app = &p.Spec.Containers[i]
			}
		}
		if qp == nil || app == nil {
			t.Errorf("pod %s: containers %v, want %s and %s", p.Name, p.Spec.Containers, userCtr, queueProxyCtr)
			continue
		}
		if qp.Image != queueImage {
			t.Errorf("pod %s: queue-proxy image %s, want kntrace's %s", p.Name, qp.Image, queueImage)
		}
		got := map[string]string{}
		for _, e := range app.Env {
			got[e.Name] = e.Value
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("pod %s: %s %s = %q, want %q as the webhook set it", p.Name, userCtr, k, got[k], v)
			}
		}
		t.Logf("pod %s: queue-proxy %s; %s has %s", p.Name, qp.Image, userCtr, strings.Join(env[0], ", "))
	}
}

// checkExits stops w and checks that at least min containers terminated,
// every one with exit code 0.
func checkExits(t *testing.T, what string, w *ExitWatch, min int) {
	t.Helper()
	exits, err := w.Stop()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	var s []string
	for _, e := range exits {
		s = append(s, e.String())
		if e.ExitCode != 0 {
			t.Errorf("%s: %s, want exit code 0", what, e)
		}
	}
	if len(exits) < min {
		t.Errorf("%s: %d containers seen terminating (%v), want at least %d", what, len(exits), s, min)
		return
	}
	t.Logf("%s: %s", what, strings.Join(s, "; "))
}

// A hop of the request: Knative's activator, a Service's queue-proxy or
// its app.
const (
	hopActivator  = "activator"
	hopQueueProxy = "queue-proxy"
	hopApp        = "app"
)

// hop names the component a span comes from: "activator",
// "queue-proxy:SERVICE" or "app:SERVICE".
func hop(s *model.Span) string {
	if s.Process == nil {
		return "?"
	}
	svc := s.Process.ServiceName
	if strings.Contains(svc, hopActivator) {
		return hopActivator
	}
	if strings.HasPrefix(s.OperationName, "kn.queueproxy") {
		return hopQueueProxy + ":" + svc
	}
	for _, kv := range s.Process.Tags {
		// Knative v0.50.0's queue-proxy spells the semantic convention's
		// k8s.container.name as container.name (knative.dev/pkg's
		// semconv.K8SContainerName returns semconv.ContainerName).
		if (kv.Key == "k8s.container.name" || kv.Key == "container.name") && kv.AsString() == queueProxyCtr {
			return hopQueueProxy + ":" + svc
		}
	}
	return hopApp + ":" + svc
}

// waitTraceTree polls Jaeger until the trace is whole or timeout passes;
// see checkTraceTree.
func waitTraceTree(ctx context.Context, c *Cluster, jc *jaeger.Client, traceID, clientSpan string, timeout time.Duration) (*model.Trace, error) {
	var tr *model.Trace
	var problems []string
	err := c.poll(ctx, timeout, "trace "+traceID+" whole in Jaeger", func(ctx context.Context) (string, error) {
		got, err := jc.GetTrace(ctx, traceID)
		if err != nil {
			return err.Error(), nil
		}
		tr = got
		if problems = checkTraceTree(tr, clientSpan); len(problems) > 0 {
			return strings.Join(problems, "; "), nil
		}
		return "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w\nwhat the last trace Jaeger returned lacks:\n  %s\nits spans (hop, operation, span, parent):\n%s",
			err, strings.Join(problems, "\n  "), describeHops(tr))
	}
	return tr, nil
}

// checkTraceTree returns what is wrong with the trace of the sample's
// request sent with span clientSpan: a span whose parent is not in the
// trace (only the client's span may be missing: it was never exported),
// the first hop not being the activator marking the cold start, or a
// missing link activator → helloworld's queue-proxy → helloworld →
// greeter's queue-proxy (directly or through the activator) → greeter.
func checkTraceTree(tr *model.Trace, clientSpan string) []string {
	byID := spansByID(tr)
	client, err := model.SpanIDFromString(clientSpan)
	if err != nil {
		return []string{err.Error()}
	}
	problems := orphans(tr, clientSpan)
	var entries int
	for _, s := range tr.Spans {
		if s.ParentSpanID() != client {
			continue
		}
		entries++
		if hop(s) != hopActivator {
			problems = append(problems, fmt.Sprintf("%s %q is a child of the client's span: want only the activator's", hop(s), s.OperationName))
		}
	}
	if entries == 0 {
		problems = append(problems, "no span is a child of the client's span")
	}
	if !slices.ContainsFunc(tr.Spans, func(s *model.Span) bool { return s.ParentSpanID() == client && isColdStart(s) }) {
		problems = append(problems, "the activator's span under the client's has no faas.coldstart=true")
	}
	// parentHop is the hop of a span's parent, "" for none.
	parentHop := func(s *model.Span) string {
		if p := byID[s.ParentSpanID()]; p != nil {
			return hop(p)
		}
		return ""
	}
	// ancestorHop reports whether a span has an ancestor of hop h.
	ancestorHop := func(s *model.Span, h string) bool {
		seen := map[model.SpanID]bool{}
		for p := byID[s.ParentSpanID()]; p != nil && !seen[p.SpanID]; p = byID[p.ParentSpanID()] {
			seen[p.SpanID] = true
			if hop(p) == h {
				return true
			}
		}
		return false
	}
	front, back := sampleFront, sampleBack
	for _, link := range []struct {
		what string
		ok   func(*model.Span) bool
	}{
		{"a span of " + front + "'s queue-proxy, child of the activator's", func(s *model.Span) bool {
			return hop(s) == hopQueueProxy+":"+front && parentHop(s) == hopActivator
		}},
		{"a span of " + front + ", child of its queue-proxy's", func(s *model.Span) bool {
			return hop(s) == hopApp+":"+front && parentHop(s) == hopQueueProxy+":"+front
		}},
		{"a span of " + back + "'s queue-proxy, child of " + front + "'s or of the activator's, under " + front, func(s *model.Span) bool {
			ph := parentHop(s)
			return hop(s) == hopQueueProxy+":"+back && (ph == hopApp+":"+front || ph == hopActivator) && ancestorHop(s, hopApp+":"+front)
		}},
		{"a span of " + back + ", child of its queue-proxy's", func(s *model.Span) bool {
			return hop(s) == hopApp+":"+back && parentHop(s) == hopQueueProxy+":"+back
		}},
	} {
		if !slices.ContainsFunc(tr.Spans, link.ok) {
			problems = append(problems, "missing "+link.what)
		}
	}
	sort.Strings(problems)
	return problems
}

// describeHops draws a trace as a tree (children by start time, under
// their parent; spans whose parent is not in the trace at the left), each
// span with the hop it is attributed to.
func describeHops(tr *model.Trace) string {
	if tr == nil {
		return "  (no trace)"
	}
	byID := map[model.SpanID]bool{}
	children := map[model.SpanID][]*model.Span{}
	var tops []*model.Span
	for _, s := range tr.Spans {
		byID[s.SpanID] = true
	}
	for _, s := range tr.Spans {
		if p := s.ParentSpanID(); p != 0 && byID[p] {
			children[p] = append(children[p], s)
		} else {
			tops = append(tops, s)
		}
	}
	byStart := func(a, b *model.Span) int { return a.StartTime.Compare(b.StartTime) }
	var b strings.Builder
	seen := map[model.SpanID]bool{}
	var draw func(s *model.Span, depth int)
	draw = func(s *model.Span, depth int) {
		if seen[s.SpanID] {
			return
		}
		seen[s.SpanID] = true
		fmt.Fprintf(&b, "  %s%-*s %-22s %s span=%s", strings.Repeat("  ", depth), 40-2*depth, s.OperationName, hop(s),
			s.Duration.Round(time.Microsecond), s.SpanID)
		if depth == 0 {
			fmt.Fprintf(&b, " parent=%s", s.ParentSpanID())
		}
		for _, kv := range s.Tags {
			if kv.Key == "faas.coldstart" {
				fmt.Fprintf(&b, " %s=%s", kv.Key, kv.AsString())
			}
		}
		b.WriteByte('\n')
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			draw(k, depth+1)
		}
	}
	slices.SortFunc(tops, byStart)
	for _, s := range tops {
		draw(s, 0)
	}
	return b.String()
}
