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
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
)

const (
	// resilienceNS holds the sample's two Services for the scenario.
	resilienceNS = "resilience"
	// holdDelay is the apps' batch delay there (OTEL_BSP_SCHEDULE_DELAY):
	// far longer than the idle window, so an app's spans can leave only
	// when it drains at SIGTERM.
	holdDelay = 10 * time.Minute
	// relayRefusedLine is what the queue-proxy's relay logs when a forward
	// to the collector fails and it holds the spans to retry.
	relayRefusedLine = "forwarding spans to the collector failed"
	// relayStoppedLine is the queue-proxy's last word: its relay's counters.
	relayStoppedLine = "relay stopped"
	// collectorSelector selects the collector's pods.
	collectorSelector = "app.kubernetes.io/name=" + conventions.CollectorName
)

// testCollectorDownAndScaleToZero: the sample's two Services, their apps
// holding their spans for holdDelay, wait at zero; the collector is scaled
// to zero and one request wakes both Services. Both queue-proxies' relays
// log a refused forward while the collector is down (the outage covered
// their exports); then the collector comes back. The pods scale to zero:
// no app span is in Jaeger before its pod was deleted (the apps could only
// flush at SIGTERM), then the whole trace is, every container exits 0, and
// each pod's spans in Jaeger equal what its relay says it forwarded, with
// none dropped and at least one retry.
func testCollectorDownAndScaleToZero(t *testing.T, c *Cluster) {
	ctx := context.Background()
	started := time.Now()
	serving := c.servingClient(t)
	if err := c.deployHeldSample(ctx, serving); err != nil {
		t.Fatal(err)
	}
	selector := "serving.knative.dev/service in (" + sampleFront + "," + sampleBack + ")"
	if err := c.WaitNoPods(ctx, resilienceNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	exits, err := c.WatchExits(ctx, resilienceNS, selector)
	if err != nil {
		t.Fatal(err)
	}
	defer exits.Stop()
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	// The collector down.
	if err := c.scaleCollector(ctx, 0); err != nil {
		t.Fatal(err)
	}
	down := true
	defer func() {
		if down {
			if err := c.scaleCollector(context.WithoutCancel(ctx), 1); err != nil {
				t.Errorf("bringing the collector back: %v", err)
			}
		}
	}()
	if err := c.WaitNoPods(ctx, KntraceNamespace, collectorSelector, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()

	traceID, clientSpan := newTraceParent(t)
	req, err := c.NewIngressRequest(ctx, http.MethodGet, resilienceNS, sampleFront, "/")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(sent)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != sampleWant {
		t.Fatalf("GET %s from zero with the collector down: %s %q; want 200 %q", sampleFront, resp.Status, body, sampleWant)
	}
	t.Logf("from zero with the collector down: %s after %s (time to first byte)", resp.Status, ttfb.Round(time.Millisecond))

	pods, err := c.servicePods(ctx, resilienceNS, sampleFront, sampleBack)
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]*followedLog{}
	for svc, pod := range pods {
		logs[svc] = c.followLog(ctx, resilienceNS, pod, queueProxyCtr)
	}
	if err := c.poll(ctx, 90*time.Second, "a refused forward in both relays' logs", func(context.Context) (string, error) {
		var waiting []string
		for svc, l := range logs {
			if !strings.Contains(l.text(), relayRefusedLine) {
				waiting = append(waiting, svc)
			}
		}
		return strings.Join(waiting, ", "), nil
	}); err != nil {
		t.Fatalf("%v\nlogs:\n%s\n%s", err, logs[sampleFront].text(), logs[sampleBack].text())
	}
	if err := c.scaleCollector(ctx, 1); err != nil {
		t.Fatal(err)
	}
	down = false
	t.Logf("collector down for %s; both relays refused by it before it came back", time.Since(downAt).Round(time.Millisecond))

	// Held until SIGTERM, then the whole tree.
	deleted := map[string]time.Time{}
	var tr *model.Trace
	polls := 0
	if err := c.poll(ctx, 3*time.Minute, "trace "+traceID+" whole in Jaeger and both pods gone", func(ctx context.Context) (string, error) {
		polls++
		got, err := jc.GetTrace(ctx, traceID)
		if err == nil {
			tr = got
		}
		appSpans := map[string]int{}
		if tr != nil {
			for _, s := range tr.Spans {
				appSpans[hop(s)]++
			}
		}
		var waiting []string
		for svc, pod := range pods {
			p, err := c.Client.CoreV1().Pods(resilienceNS).Get(ctx, pod, metav1.GetOptions{})
			gone := apierrors.IsNotFound(err)
			if err != nil && !gone {
				return err.Error(), nil
			}
			if _, seen := deleted[svc]; !seen && (gone || p.DeletionTimestamp != nil) {
				deleted[svc] = time.Now()
			}
			if _, seen := deleted[svc]; !seen && appSpans[hopApp+":"+svc] > 0 {
				return "", fmt.Errorf("%d spans of %s's app reached Jaeger before its pod %s was deleted: they left before SIGTERM, though its batch delay is %s",
					appSpans[hopApp+":"+svc], svc, pod, holdDelay)
			}
			if !gone {
				waiting = append(waiting, "pod "+pod)
			}
		}
		if tr == nil {
			return strings.Join(append(waiting, "no trace yet"), ", "), nil
		}
		return strings.Join(append(waiting, checkTraceTree(tr, clientSpan)...), "; "), nil
	}); err != nil {
		t.Fatalf("%v\nthe last trace Jaeger returned:\n%s", err, describeHops(tr))
	}
	t.Logf("one trace %s, %d spans, whole after both pods were deleted (%d polls of Jaeger and the pods; no app span before its pod's deletion):\n%s",
		traceID, len(tr.Spans), polls, describeHops(tr))

	for svc, pod := range pods {
		t.Logf("%s: pod %s deleted %s after the request", svc, pod, deleted[svc].Sub(sent).Round(time.Millisecond))
	}
	checkRelayCounts(ctx, t, c, jc, pods, logs, started, true)
	checkExits(t, "the held sample's pods at scale to zero", exits, 4)
}

// checkRelayCounts waits for each pod's queue-proxy log (logs, by Service)
// to end, then checks that its relay forwarded every span it accepted and
// dropped none (and, with wantRetries, retried at least once), and that
// Jaeger holds exactly as many spans of the pod, in traces started after
// since: what the pod's queue-proxy and app exported, all of it.
func checkRelayCounts(ctx context.Context, t *testing.T, c *Cluster, jc *jaeger.Client, pods map[string]string, logs map[string]*followedLog, since time.Time, wantRetries bool) {
	t.Helper()
	for svc, pod := range pods {
		l := logs[svc]
		select {
		case <-l.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s's queue-proxy log did not end 30s after its pod %s was gone", svc, pod)
		}
		st, err := parseRelayStopped(l.text())
		if err != nil {
			t.Errorf("%s (pod %s): %v\nlog:\n%s", svc, pod, err, l.text())
			continue
		}
		if st["dropped_spans"] != 0 || st["forwarded_spans"] != st["accepted_spans"] || (wantRetries && st["forward_retries"] == 0) {
			t.Errorf("%s (pod %s): relay %v; want every accepted span forwarded, none dropped (and a retry: %v)", svc, pod, st, wantRetries)
		}
		var inJaeger int
		err = c.poll(ctx, time.Minute, fmt.Sprintf("%d spans of pod %s in Jaeger", st["forwarded_spans"], pod), func(ctx context.Context) (string, error) {
			n, err := podSpans(ctx, jc, pod, since)
			if err != nil {
				return err.Error(), nil
			}
			if inJaeger = n; n != st["forwarded_spans"] {
				return fmt.Sprintf("%d", n), nil
			}
			return "", nil
		})
		if err != nil {
			t.Errorf("%s: %v", svc, err)
			continue
		}
		t.Logf("%s (pod %s): relay %v; %d of its spans in Jaeger", svc, pod, st, inJaeger)
	}
}

// deployHeldSample creates resilienceNS with the sample's two Services
// (the images the default namespace's run), their apps' batch delay
// holdDelay, and waits for them to be Ready and routed.
func (c *Cluster) deployHeldSample(ctx context.Context, serving servingclient.Interface) error {
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: resilienceNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	hold := corev1.EnvVar{Name: conventions.EnvScheduleDelay, Value: strconv.FormatInt(holdDelay.Milliseconds(), 10)}
	for _, s := range []struct {
		name string
		env  corev1.EnvVar
	}{
		{sampleFront, corev1.EnvVar{Name: "GREETER_URL", Value: "http://" + sampleBack + "." + resilienceNS + ".svc.cluster.local"}},
		{sampleBack, corev1.EnvVar{Name: "GREETING", Value: "Knative"}},
	} {
		image, err := c.revisionImage(ctx, s.name)
		if err != nil {
			return err
		}
		svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: resilienceNS, Annotations: map[string]string{conventions.InjectAnnotation: "true"}}}
		svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: image, Env: []corev1.EnvVar{s.env, hold}}}
		if _, err := serving.ServingV1().Services(resilienceNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, name := range []string{sampleFront, sampleBack} {
		if err := c.WaitServiceReady(ctx, resilienceNS, name, 3*time.Minute); err != nil {
			return err
		}
	}
	return c.WaitRoute(ctx, resilienceNS, sampleFront, time.Minute)
}

// scaleCollector scales the collector config/ installs to replicas and,
// for more than zero, waits for it to be available.
func (c *Cluster) scaleCollector(ctx context.Context, replicas int) error {
	deploy := "deployment/" + conventions.CollectorName
	if _, err := c.Kubectl(ctx, "-n", KntraceNamespace, "scale", deploy, "--replicas="+strconv.Itoa(replicas)); err != nil {
		return err
	}
	if replicas == 0 {
		return nil
	}
	_, err := c.Kubectl(ctx, "-n", KntraceNamespace, "rollout", "status", deploy, "--timeout=120s")
	return err
}

// servicePods returns the one live pod of each of the Knative Services
// names in ns, by Service.
func (c *Cluster) servicePods(ctx context.Context, ns string, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range names {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=" + name})
		if err != nil {
			return nil, err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if prev, ok := out[name]; ok {
				return nil, fmt.Errorf("%s has two live pods, %s and %s; want one", name, prev, p.Name)
			}
			out[name] = p.Name
		}
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("%s has no live pod", name)
		}
	}
	return out, nil
}

// followedLog is a container's log, read as it is written until the
// container ends (done closes then).
type followedLog struct {
	mu   sync.Mutex
	b    strings.Builder
	done chan struct{}
}

func (l *followedLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// followLog follows a container's log from its start until it ends or ctx
// is done; an error reading it ends up in the text.
func (c *Cluster) followLog(ctx context.Context, ns, pod, container string) *followedLog {
	l := &followedLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		r, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
		if err != nil {
			l.mu.Lock()
			fmt.Fprintf(&l.b, "(following the log of %s/%s %s: %v)\n", ns, pod, container, err)
			l.mu.Unlock()
			return
		}
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.b.WriteString(sc.Text())
			l.b.WriteByte('\n')
			l.mu.Unlock()
		}
	}()
	return l
}

// parseRelayStopped reads the counters of the queue-proxy's last log line
// (relayStoppedLine, key=value pairs of slog's text format).
func parseRelayStopped(log string) (map[string]int, error) {
	for line := range strings.Lines(log) {
		if !strings.Contains(line, relayStoppedLine) {
			continue
		}
		st := map[string]int{}
		for f := range strings.FieldsSeq(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			// The line may be quoted inside a JSON log record.
			if n, err := strconv.Atoi(strings.TrimRight(v, `"},`)); err == nil {
				st[k] = n
			}
		}
		for _, k := range []string{"accepted_spans", "forwarded_spans", "dropped_spans", "forward_retries"} {
			if _, ok := st[k]; !ok {
				return nil, fmt.Errorf("the %q line has no %s: %s", relayStoppedLine, k, line)
			}
		}
		return st, nil
	}
	return nil, fmt.Errorf("no %q line: the queue-proxy did not report its relay's counters", relayStoppedLine)
}

// podSpans counts the spans in Jaeger, of any service, whose process names
// pod as its k8s.pod.name, in traces that started after since.
func podSpans(ctx context.Context, jc *jaeger.Client, pod string, since time.Time) (int, error) {
	services, err := jc.Services(ctx)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, svc := range services {
		traces, err := jc.FindTraces(ctx, jaeger.Query{Service: svc, Tags: map[string]string{"k8s.pod.name": pod}, StartMin: since, Limit: 1000})
		if err != nil {
			return 0, err
		}
		for _, tr := range traces {
			for _, s := range tr.Spans {
				if s.Process == nil {
					continue
				}
				for _, kv := range s.Process.Tags {
					if kv.Key == "k8s.pod.name" && kv.AsString() == pod {
						seen[s.TraceID.String()+"/"+s.SpanID.String()] = true
					}
				}
			}
		}
	}
	return len(seen), nil
}

// servingClient is c.ServingClient, failing the test on an error.
func (c *Cluster) servingClient(t testing.TB) servingclient.Interface {
	t.Helper()
	serving, err := c.ServingClient()
	if err != nil {
		t.Fatal(err)
	}
	return serving
}
