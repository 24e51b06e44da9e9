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
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
)

// compareNS holds the upstream comparison's Services.
const compareNS = "compare"

// comparePlan is how much one data plane is measured.
type comparePlan struct {
	// services are woken from zero one after the other, in each round;
	// in the first round the first with B3 headers, every other request
	// with W3C's.
	services int
	// rounds: after the first, the Services are left to scale to zero
	// again and woken again.
	rounds int
	// warm requests go to the last Service woken.
	warm int
}

// scenarioPlan is the scenario's: enough to check each trace.
var scenarioPlan = comparePlan{services: 4, rounds: 1, warm: 200}

// dataPlaneFigures is what one data plane measured through Traefik.
type dataPlaneFigures struct {
	coldTTFB []time.Duration
	warm     []time.Duration
	// warmCPU is the CPU time the warm requests cost, per container name
	// (activator, queue-proxy, user-container, the Collector's and
	// Jaeger's), from the containers' cgroups, read once the last one's
	// trace is whole in Jaeger: exports and storage included.
	warmCPU map[string]time.Duration
}

// podGroup names pods: those in namespace matching selector.
type podGroup struct{ namespace, selector string }

// warmCPUGroups are the pods whose containers the warm requests are
// charged with: the activator, kntrace's backends and the Service's own.
func warmCPUGroups(svc string) []podGroup {
	return []podGroup{
		{ServingNamespace, "app=activator"},
		{KntraceNamespace, "app.kubernetes.io/part-of=kntrace"},
		{compareNS, "serving.knative.dev/service=" + svc},
	}
}

// readCPU sums CPUUsage over groups.
func readCPU(ctx context.Context, c *Cluster, groups []podGroup) (CPU, error) {
	all := CPU{}
	for _, g := range groups {
		u, err := c.CPUUsage(ctx, g.namespace, g.selector)
		if err != nil {
			return nil, err
		}
		maps.Copy(all, u)
	}
	return all, nil
}

// testUpstreamComparison runs the same Services through kntrace's
// activator and queue-proxy, then through Knative's own (the overlays
// removed, kntrace's backends kept): each wakes plain Services (no tracing
// of their own) from zero through Traefik, one after the other, then sends
// warm requests (scenarioPlan).
//
//   - kntrace: the B3-only request and the W3C ones are each one trace
//     under the client's trace ID, with no orphan: the activator's span,
//     child of the client's, marked faas.coldstart=true, and the
//     queue-proxy's span its child.
//   - Knative's own: the W3C requests are one trace each, as whole, but no
//     cold start is marked; the B3-only request's trace is cut at the
//     activator: nothing is stored under the client's trace ID, and the
//     queue-proxy's span is in a trace whose root is the activator's.
//   - At sampling rate 1, a caller's unsampled request is not recorded by
//     kntrace's activator (parent-based) and is by Knative's
//     (AlwaysSample).
//
// Each prints its times to first byte from zero and its warm p50 and p99;
// make bench's cluster rows are the performance claim, this is the
// behaviour.
func testUpstreamComparison(t *testing.T, c *Cluster) {
	ctx := context.Background()
	image, err := c.GoImage(ctx, ProbeProgram)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: compareNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	// At rate 1 Knative's own sampler is AlwaysSample, not parent-based.
	if err := c.setSamplingRate(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	kntrace := compareDataPlane(ctx, t, c, jc, image, "kntrace", true, scenarioPlan)
	checkUnsampled(ctx, t, c, jc, "kntrace-1", false)
	if t.Failed() {
		return
	}
	start := time.Now()
	if err := c.UseUpstreamDataPlane(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Knative's activator and queue-proxy in place in %s", time.Since(start).Round(time.Millisecond))
	upstream := compareDataPlane(ctx, t, c, jc, image, "upstream", false, scenarioPlan)
	checkUnsampled(ctx, t, c, jc, "upstream-1", true)
	if t.Failed() {
		return
	}
	for _, f := range []struct {
		name string
		d    dataPlaneFigures
	}{{"kntrace", kntrace}, {"upstream", upstream}} {
		t.Logf("%-8s from zero through Traefik: time to first byte %s; warm: p50 %s, p99 %s (%d requests)", f.name,
			durations(f.d.coldTTFB), percentile(f.d.warm, 50).Round(10*time.Microsecond),
			percentile(f.d.warm, 99).Round(10*time.Microsecond), len(f.d.warm))
	}
	t.Logf("time to first byte from zero, medians: kntrace %s, upstream %s",
		percentile(kntrace.coldTTFB, 50).Round(time.Millisecond), percentile(upstream.coldTTFB, 50).Round(time.Millisecond))
}

// compareDataPlane creates plan.services Services named PREFIX-N, lets
// them scale to zero, wakes each with one request, plan.rounds times,
// checks the first round's traces as the data plane in place should leave
// them (kntrace's when kntrace is true, Knative's own otherwise), then,
// once the others are back at zero, sends the warm requests to the last
// one woken, checks the last one's trace and reads what they cost in CPU.
func compareDataPlane(ctx context.Context, t testing.TB, c *Cluster, jc *jaeger.Client, image, prefix string, kntrace bool, plan comparePlan) dataPlaneFigures {
	serving := c.servingClient(t)
	names := make([]string, plan.services)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i+1)
		ksvc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: names[i], Namespace: compareNS}}
		ksvc.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}}
		if _, err := serving.ServingV1().Services(compareNS).Create(ctx, ksvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := c.WaitServiceReady(ctx, compareNS, name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitRoute(ctx, compareNS, name, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	selector := "serving.knative.dev/service in (" + strings.Join(names, ",") + ")"

	var figures dataPlaneFigures
	type sent struct {
		name, traceID, spanID string
		at, done              time.Time
	}
	var first []sent
	for round := range plan.rounds {
		if err := c.WaitNoPods(ctx, compareNS, selector, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		var ttfbs []time.Duration
		for i, name := range names {
			traceID, spanID := newTraceParent(t)
			h := http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}}
			if round == 0 && i == 0 {
				h = http.Header{"X-B3-Traceid": {traceID}, "X-B3-Spanid": {spanID}, "X-B3-Sampled": {"1"}}
			}
			at := time.Now()
			ttfb, err := getThroughTraefik(ctx, c, name, h)
			if err != nil {
				t.Fatalf("%s from zero: %v", name, err)
			}
			ttfbs = append(ttfbs, ttfb)
			if round == 0 {
				first = append(first, sent{name, traceID, spanID, at, time.Now()})
			}
		}
		t.Logf("%s, round %d/%d: %d Services from zero, one after the other: time to first byte %s",
			prefix, round+1, plan.rounds, len(names), durations(ttfbs))
		figures.coldTTFB = append(figures.coldTTFB, ttfbs...)
	}

	for i, r := range first {
		if i == 0 && !kntrace {
			checkB3Cut(ctx, t, c, jc, r.name, r.traceID, r.at, r.done)
			continue
		}
		if _, err := waitDataPlaneTree(ctx, c, jc, r.traceID, r.spanID, r.name, kntrace); err != nil {
			t.Errorf("%s, %s: %v", prefix, r.name, err)
		}
	}

	figures.warm, figures.warmCPU = measureWarm(ctx, t, c, jc, names, prefix, plan.warm)
	return figures
}

// measureWarm sends n sequential sampled requests to the last of names
// once the others are back at zero (the last is kept warm meanwhile, so
// their pods' shutdown and the cold starts' exports are not charged to the
// warm requests), checks the last one's trace, and returns each request's
// time to first byte and the CPU time they cost per container name, read
// once that trace is whole in Jaeger: exports and storage included.
func measureWarm(ctx context.Context, t testing.TB, c *Cluster, jc *jaeger.Client, names []string, prefix string, n int) (warm []time.Duration, cpu map[string]time.Duration) {
	last := names[len(names)-1]
	others := "serving.knative.dev/service in (" + strings.Join(names[:len(names)-1], ",") + ")"
	stopPinging := pingEvery(ctx, c, last, 500*time.Millisecond)
	err := c.WaitNoPods(ctx, compareNS, others, 3*time.Minute)
	if perr := stopPinging(); err == nil {
		err = perr
	}
	if err != nil {
		t.Fatal(err)
	}
	before, err := readCPU(ctx, c, warmCPUGroups(last))
	if err != nil {
		t.Fatal(err)
	}
	var lastTrace, lastSpan string
	for range n {
		lastTrace, lastSpan = newTraceParent(t)
		d, err := getThroughTraefik(ctx, c, last, http.Header{"Traceparent": {"00-" + lastTrace + "-" + lastSpan + "-01"}})
		if err != nil {
			t.Fatalf("%s warm: %v", last, err)
		}
		warm = append(warm, d)
	}
	// Spans leave in order: once the last request's trace is whole, every
	// warm request's spans were exported and stored.
	lastTr, err := waitDataPlaneTree(ctx, c, jc, lastTrace, lastSpan, last, false)
	if err != nil {
		t.Fatalf("%s, the last warm request: %v", prefix, err)
	}
	perHop := map[string]int{}
	for _, s := range lastTr.Spans {
		perHop[hop(s)]++
	}
	t.Logf("%s, a warm request's trace: %d spans %v", prefix, len(lastTr.Spans), perHop)
	after, err := readCPU(ctx, c, warmCPUGroups(last))
	if err != nil {
		t.Fatal(err)
	}
	cpu = after.Since(before)
	t.Logf("%s, %d warm requests: CPU time %s", prefix, n, cpuTimes(cpu))
	return warm, cpu
}

// waitDataPlaneTree waits, up to a minute, until the trace traceID of a
// request to svc sent with span clientSpan is whole in Jaeger as
// checkDataPlaneTree wants it, and returns it; the error names what is
// still wrong.
func waitDataPlaneTree(ctx context.Context, c *Cluster, jc *jaeger.Client, traceID, clientSpan, svc string, wantColdMark bool) (*model.Trace, error) {
	var whole *model.Trace
	err := c.poll(ctx, time.Minute, "trace "+traceID+" of "+svc+" whole in Jaeger", func(ctx context.Context) (string, error) {
		tr, err := jc.GetTrace(ctx, traceID)
		if err != nil {
			return err.Error(), nil
		}
		whole = tr
		return strings.Join(checkDataPlaneTree(tr, clientSpan, svc, wantColdMark), "; "), nil
	})
	return whole, err
}

// pingEvery keeps the Service name from scaling to zero with a request
// every period until stop is called; stop returns the first failed one.
func pingEvery(ctx context.Context, c *Cluster, name string, period time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			if _, err := getThroughTraefik(ctx, c, name, nil); err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
			}
		}
	}()
	return func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("keeping %s warm: %w", name, err)
		}
		return nil
	}
}

// getThroughTraefik sends GET / to the Service in compareNS with the given
// headers and returns the time to first byte; anything but 200 from the
// probe, or a response that carries the queue-proxy's timeline header, is
// an error.
func getThroughTraefik(ctx context.Context, c *Cluster, name string, h http.Header) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := c.NewIngressRequest(rctx, http.MethodGet, compareNS, name, "/")
	if err != nil {
		return 0, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	ttfb := time.Since(start)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "kntrace-probe "+name+"-") {
		return 0, fmt.Errorf("GET / through Traefik (Host %s): %s %q, want 200 from the probe", req.Host, resp.Status, body)
	}
	// The queue-proxy's timeline is for the activator only.
	if v := resp.Header.Get(coldstart.Header); v != "" {
		return 0, fmt.Errorf("GET / through Traefik (Host %s): the response carries %s: %q, which the activator must remove", req.Host, coldstart.Header, v)
	}
	return ttfb, nil
}

// checkDataPlaneTree returns what is wrong with the trace of a request to
// svc sent with span clientSpan: an orphan, a child of the client's span
// other than the activator's, no queue-proxy span of svc under the
// activator's, or a cold-start mark where none is wanted or none where
// one is.
func checkDataPlaneTree(tr *model.Trace, clientSpan, svc string, wantColdMark bool) []string {
	problems := orphans(tr, clientSpan)
	client, err := model.SpanIDFromString(clientSpan)
	if err != nil {
		return []string{err.Error()}
	}
	byID := spansByID(tr)
	var entry *model.Span
	for _, s := range tr.Spans {
		if s.ParentSpanID() != client {
			continue
		}
		if hop(s) != hopActivator {
			problems = append(problems, fmt.Sprintf("%s %q is a child of the client's span: want only the activator's", hop(s), s.OperationName))
			continue
		}
		entry = s
	}
	if entry == nil {
		return append(problems, "no activator span is a child of the client's span")
	}
	if !slices.ContainsFunc(tr.Spans, func(s *model.Span) bool {
		p := byID[s.ParentSpanID()]
		return hop(s) == hopQueueProxy+":"+svc && p != nil && hop(p) == hopActivator
	}) {
		problems = append(problems, "no span of "+svc+"'s queue-proxy is a child of an activator span")
	}
	marked := slices.ContainsFunc(tr.Spans, isColdStart)
	switch {
	case wantColdMark && !isColdStart(entry):
		problems = append(problems, "the activator's span under the client's has no faas.coldstart=true")
	case !wantColdMark && marked:
		problems = append(problems, "a span is marked faas.coldstart=true: Knative's own data plane marks none")
	}
	return problems
}

// checkB3Cut checks that Knative's own activator cut the B3-only
// request's trace, sent at from and answered by to: Jaeger holds a trace
// with svc's queue-proxy span under an activator span that is a root, in
// another trace than the client's, and nothing under the client's trace
// ID.
func checkB3Cut(ctx context.Context, t testing.TB, c *Cluster, jc *jaeger.Client, svc, traceID string, from, to time.Time) {
	t.Helper()
	var cut *model.Trace
	err := c.poll(ctx, time.Minute, "the trace of "+svc+"'s queue-proxy span, rooted at the activator", func(ctx context.Context) (string, error) {
		services, err := jc.Services(ctx)
		if err != nil {
			return err.Error(), nil
		}
		for _, name := range services {
			if !strings.Contains(name, hopActivator) {
				continue
			}
			traces, err := jc.FindTraces(ctx, jaeger.Query{Service: name, StartMin: from.Add(-time.Second), StartMax: to.Add(time.Second), Limit: 100})
			if err != nil {
				return err.Error(), nil
			}
			for _, tr := range traces {
				if slices.ContainsFunc(tr.Spans, func(s *model.Span) bool { return hop(s) == hopQueueProxy+":"+svc }) {
					cut = tr
					return "", nil
				}
			}
		}
		return "no trace with an activator span holds " + svc + "'s queue-proxy span yet", nil
	})
	if err != nil {
		t.Errorf("upstream, B3 headers: %v", err)
		return
	}
	byID := spansByID(cut)
	rooted := slices.ContainsFunc(cut.Spans, func(s *model.Span) bool {
		if hop(s) != hopQueueProxy+":"+svc {
			return false
		}
		for p := byID[s.ParentSpanID()]; p != nil; p = byID[p.ParentSpanID()] {
			if hop(p) == hopActivator && p.ParentSpanID() == 0 {
				return true
			}
		}
		return false
	})
	if got := cut.Spans[0].TraceID.String(); got == traceID || !rooted {
		t.Errorf("upstream, B3 headers: %s's queue-proxy span is in trace %s (client's %s), under a root activator span: %v; want a new trace rooted at the activator:\n%s",
			svc, got, traceID, rooted, describeHops(cut))
	}
	if got, err := jc.GetTrace(ctx, traceID); err == nil {
		t.Errorf("upstream, B3 headers: Jaeger holds %d spans under the client's trace ID %s; Knative's activator is expected to cut it:\n%s",
			len(got.Spans), traceID, describeHops(got))
	}
	t.Logf("upstream, B3 headers: the activator started trace %s:\n%s", cut.Spans[0].TraceID, describeHops(cut))
}

// checkUnsampled sends svc a request whose caller decided not to sample,
// then a sampled marker, and waits for the marker's activator span: by
// then the activator has exported the first request's spans if it recorded
// any. Only the activator's spans count (Knative's queue-proxy samples on
// its own).
func checkUnsampled(ctx context.Context, t testing.TB, c *Cluster, jc *jaeger.Client, svc string, wantRecorded bool) {
	t.Helper()
	unsampled, spanID := newTraceParent(t)
	if _, err := getThroughTraefik(ctx, c, svc, http.Header{"Traceparent": {"00-" + unsampled + "-" + spanID + "-00"}}); err != nil {
		t.Fatalf("unsampled request to %s: %v", svc, err)
	}
	marker, markerSpan := newTraceParent(t)
	if _, err := getThroughTraefik(ctx, c, svc, http.Header{"Traceparent": {"00-" + marker + "-" + markerSpan + "-01"}}); err != nil {
		t.Fatalf("marker request to %s: %v", svc, err)
	}
	activatorSpan := func(s *model.Span) bool { return hop(s) == hopActivator }
	if err := c.poll(ctx, time.Minute, "the marker's activator span in Jaeger", func(ctx context.Context) (string, error) {
		tr, err := jc.GetTrace(ctx, marker)
		if err != nil {
			return err.Error(), nil
		}
		if !slices.ContainsFunc(tr.Spans, activatorSpan) {
			return "no activator span yet", nil
		}
		return "", nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := jc.GetTrace(ctx, unsampled)
	recorded := err == nil && slices.ContainsFunc(got.Spans, activatorSpan)
	switch {
	case recorded && !wantRecorded:
		t.Errorf("%s: the activator recorded the caller's unsampled trace %s: sampling is not parent-based:\n%s", svc, unsampled, describeHops(got))
	case !recorded && wantRecorded:
		t.Errorf("%s: the activator did not record the caller's unsampled trace %s; Knative's AlwaysSample at rate 1 is expected to (%v)", svc, unsampled, err)
	case recorded:
		t.Logf("%s: the activator recorded the caller's unsampled trace %s (AlwaysSample)", svc, unsampled)
	default:
		t.Logf("%s: the activator followed the caller's decision not to sample trace %s", svc, unsampled)
	}
}

// cpuTimes prints CPU times per container name, largest first.
func cpuTimes(m map[string]time.Duration) string {
	names := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = n + " " + m[n].Round(time.Millisecond).String()
	}
	return strings.Join(s, ", ")
}

// durations prints ds in milliseconds.
func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(s, ", ")
}

// percentile is the p-th percentile of ds (nearest rank); 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}
