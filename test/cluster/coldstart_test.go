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
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
)

// coldStartTarget is the Knative Service the cold-start scenarios wake:
// the sample's greeter, which calls nothing.
const (
	coldStartTarget = sampleBack
	coldStartPath   = "/greet"
	// boundarySlack is how far a phase boundary may be from the record of
	// a process that did not give it.
	boundarySlack = 20 * time.Millisecond
	// podstartService is the service.name of podstart's own spans.
	podstartService = "kntrace-podstart"
)

// coldRequest is one request of a cold-start scenario.
type coldRequest struct {
	traceID, spanID string
	status          int
	err             error
	sent, ttfb      time.Duration
}

func newTraceParent(t testing.TB) (traceID, spanID string) {
	t.Helper()
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(raw[:16]), hex.EncodeToString(raw[16:])
}

// send sends r through Traefik with a sampled W3C context of its own.
func (r *coldRequest) send(ctx context.Context, c *Cluster, started time.Time) {
	req, err := c.NewIngressRequest(ctx, http.MethodGet, sampleNS, coldStartTarget, coldStartPath)
	if err != nil {
		r.err = err
		return
	}
	req.Header.Set("traceparent", "00-"+r.traceID+"-"+r.spanID+"-01")
	at := time.Now()
	r.sent = at.Sub(started)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.err = err
		return
	}
	r.ttfb = time.Since(at)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.status = resp.StatusCode
}

// testColdStartPhases: the target at zero is woken by one request and
// joined by four more while its pod starts. All five are marked
// faas.coldstart=true; the four link to the first (the leader), whose trace
// holds podstart's Kubernetes phases: every phase of
// coldstart.KubernetesPhases, together covering at least 95% of the
// activator's own account of the wait, the image "present". Their
// boundaries agree with records the code under test does not own:
// containerd's own CRI spans (within 20 ms) and the pod's conditions as the
// API server stores them (one-second resolution). The kubelet's trace of
// the pod's start links back to the leader. Then the image is removed from
// the node: the next cold start's image phase is the kubelet's pull.
func testColdStartPhases(t *testing.T, c *Cluster) {
	ctx := context.Background()
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	selector := "serving.knative.dev/service=" + coldStartTarget
	events := c.watchContainerdEvents(t)

	leader := wakeWithFollowers(ctx, t, c, selector, 4)
	if t.Failed() {
		return
	}
	if tr := checkColdStartTrace(ctx, t, c, jc, events, leader, true); tr == nil {
		return
	}

	// The image pulled: remove it from the node first.
	if err := c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	image, err := c.revisionImage(ctx, coldStartTarget)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "--namespace", "k8s.io", "images", "rm", "--sync", image).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images rm %s: %v\n%s", image, err, out)
	}
	t.Logf("removed %s from the node", image)
	pulled := wakeWithFollowers(ctx, t, c, selector, 0)
	checkColdStartTrace(ctx, t, c, jc, events, pulled, false)
}

// wakeWithFollowers waits for the target to be at zero, sends the leader,
// and once the pod that answers it exists (the revision is still not
// ready), sends followers more; all must answer 200. It returns the leader
// and fails t if any request failed.
func wakeWithFollowers(ctx context.Context, t *testing.T, c *Cluster, selector string, followers int) *coldRequest {
	t.Helper()
	if err := c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	reqs := make([]*coldRequest, 1+followers)
	for i := range reqs {
		tid, sid := newTraceParent(t)
		reqs[i] = &coldRequest{traceID: tid, spanID: sid}
	}
	started := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); reqs[0].send(ctx, c, started) }()
	if followers > 0 {
		if err := c.poll(ctx, time.Minute, "a pod of "+coldStartTarget+" created", func(ctx context.Context) (string, error) {
			pods, err := c.Client.CoreV1().Pods(sampleNS).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return err.Error(), nil
			}
			if len(pods.Items) == 0 {
				return "no pod yet", nil
			}
			return "", nil
		}); err != nil {
			t.Error(err)
		}
		for _, r := range reqs[1:] {
			wg.Add(1)
			go func() { defer wg.Done(); r.send(ctx, c, started) }()
		}
	}
	wg.Wait()
	for i, r := range reqs {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("request %d (trace %s): %d %v; want 200", i, r.traceID, r.status, r.err)
		}
		t.Logf("request %d: sent at +%s, first byte after %s, trace %s", i, r.sent.Round(time.Millisecond), r.ttfb.Round(time.Millisecond), r.traceID)
	}
	if !t.Failed() {
		checkFollowers(ctx, t, c, reqs)
	}
	return reqs[0]
}

// activatorRequestSpan is the activator's span of the request sent with
// clientSpan.
func activatorRequestSpan(tr *jaeger.Trace, clientSpan string) *jaeger.Span {
	for _, s := range tr.Spans {
		if s.Service == jaeger.ActivatorService && s.ParentSpanID == clientSpan {
			return s
		}
	}
	return nil
}

// checkFollowers: every request's activator span is marked, and each
// follower links to the leader's.
func checkFollowers(ctx context.Context, t *testing.T, c *Cluster, reqs []*coldRequest) {
	t.Helper()
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	var leaderSpan string
	for i, r := range reqs {
		var span *jaeger.Span
		err := c.poll(ctx, time.Minute, "the activator's span of request "+r.traceID, func(ctx context.Context) (string, error) {
			raw, err := jc.GetTrace(ctx, r.traceID)
			if err != nil {
				return err.Error(), nil
			}
			tr, err := jaeger.Build(raw)
			if err != nil {
				return err.Error(), nil
			}
			if span = activatorRequestSpan(tr, r.spanID); span == nil {
				return fmt.Sprintf("%d spans, none the activator's child of %s", len(tr.Spans), r.spanID), nil
			}
			return "", nil
		})
		if err != nil {
			t.Error(err)
			continue
		}
		if !span.ColdStart {
			t.Errorf("request %d: the activator's span is not marked faas.coldstart=true", i)
		}
		if i == 0 {
			leaderSpan = span.SpanID
			if len(span.Links) != 0 {
				t.Errorf("the leader links %v, want no link", span.Links)
			}
			continue
		}
		if !slices.Contains(span.Links, jaeger.SpanLink{TraceID: reqs[0].traceID, SpanID: leaderSpan}) {
			t.Errorf("follower %d links %v, want the leader's span %s/%s", i, span.Links, reqs[0].traceID, leaderSpan)
		}
	}
}

// checkColdStartTrace waits for podstart's phases in the leader's trace and
// checks them; it returns the trace, nil when it failed t.
func checkColdStartTrace(ctx context.Context, t *testing.T, c *Cluster, jc *jaeger.Client, events *containerdEvents, leader *coldRequest, imagePresent bool) *jaeger.Trace {
	t.Helper()
	// The pods as the API server has them now, before they scale away.
	pods, err := c.Client.CoreV1().Pods(sampleNS).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=" + coldStartTarget})
	if err != nil {
		t.Fatal(err)
	}
	var tr *jaeger.Trace
	var group *jaeger.Span
	if err := c.poll(ctx, 2*time.Minute, "podstart's Kubernetes phases in trace "+leader.traceID, func(ctx context.Context) (string, error) {
		raw, err := jc.GetTrace(ctx, leader.traceID)
		if err != nil {
			return err.Error(), nil
		}
		if tr, err = jaeger.Build(raw); err != nil {
			return err.Error(), nil
		}
		for _, s := range tr.Spans {
			if s.OperationName == coldstart.SpanKubernetes {
				group = s
			}
		}
		if group == nil || len(group.Children) != len(coldstart.KubernetesPhases()) {
			return fmt.Sprintf("%d spans, no %s with its phases yet", len(tr.Spans), coldstart.SpanKubernetes), nil
		}
		return "", nil
	}); err != nil {
		t.Fatalf("%v\npodstart's log:\n%s", err, c.podstartLog(ctx))
	}
	request := activatorRequestSpan(tr, leader.spanID)
	if request == nil || group.ParentSpanID != request.SpanID || group.Service != podstartService {
		t.Fatalf("%s (service %s) under %s, want podstart's span under the activator's request span", coldstart.SpanKubernetes, group.Service, group.ParentSpanID)
	}

	// The phases: every one, each once.
	phases := map[string]*jaeger.Span{}
	var sum time.Duration
	for _, s := range group.Children {
		phases[s.ColdStartPhase] = s
		sum += time.Duration(s.DurationMicros) * time.Microsecond
	}
	var line []string
	for _, name := range coldstart.KubernetesPhases() {
		s := phases[name]
		if s == nil {
			t.Fatalf("no %s phase under %s; it has %d children", name, coldstart.SpanKubernetes, len(group.Children))
		}
		line = append(line, fmt.Sprintf("%s %s (%s)", name, (time.Duration(s.DurationMicros)*time.Microsecond).Round(time.Millisecond), s.ColdStartSource))
	}
	t.Logf("cold start %s, first byte after %s: %s", leader.traceID, leader.ttfb.Round(time.Millisecond), strings.Join(line, ", "))

	// Coverage of the activator's own account of the wait: its four
	// coarse phases, from the request's arrival to its first byte.
	var wait time.Duration
	for _, s := range tr.Spans {
		if s.ColdStartPhase != "" && s.ParentSpanID == request.SpanID {
			wait += time.Duration(s.DurationMicros) * time.Microsecond
		}
	}
	if wait == 0 || float64(sum) < 0.95*float64(wait) {
		t.Errorf("the Kubernetes phases cover %s of the activator's %s wait, want at least 95%%", sum, wait)
	} else {
		t.Logf("the Kubernetes phases cover %s of the activator's %s wait (%.1f%%)", sum, wait, 100*float64(sum)/float64(wait))
	}

	img := phases[coldstart.PhaseImage]
	if present := img != nil && img.Tags[coldstart.AttrImage] == coldstart.ImagePresent; present != imagePresent {
		t.Errorf("image phase %s=%v, want present %t", coldstart.AttrImage, img.Tags[coldstart.AttrImage], imagePresent)
	}
	if !imagePresent && img != nil && img.DurationMicros == 0 {
		t.Error("image phase empty, want the pull's time")
	}

	// The kubelet's trace of the pod's start: linked from the group, and
	// linking back.
	if len(group.Links) != 1 {
		t.Fatalf("%s links %v, want the kubelet's syncPod", coldstart.SpanKubernetes, group.Links)
	}
	var kubelet *jaeger.Trace
	if err := c.poll(ctx, time.Minute, "the kubelet's trace "+group.Links[0].TraceID+" with the link back", func(ctx context.Context) (string, error) {
		raw, err := jc.GetTrace(ctx, group.Links[0].TraceID)
		if err != nil {
			return err.Error(), nil
		}
		if kubelet, err = jaeger.Build(raw); err != nil {
			return err.Error(), nil
		}
		for _, s := range kubelet.Spans {
			if s.OperationName == coldstart.SpanRequestLink && slices.Contains(s.Links, jaeger.SpanLink{TraceID: leader.traceID, SpanID: request.SpanID}) {
				return "", nil
			}
		}
		return fmt.Sprintf("%d spans, no %s linking to the request", len(kubelet.Spans), coldstart.SpanRequestLink), nil
	}); err != nil {
		t.Error(err)
		return tr
	}

	// Boundaries against containerd's own record of the same starts: its
	// task-start events (Debian's containerd emits no spans).
	end := func(s *jaeger.Span) time.Time {
		return s.StartTime.Add(time.Duration(s.DurationMicros) * time.Microsecond)
	}
	pod := fmt.Sprint(group.Tags["k8s.pod.name"])
	sandbox, containers, err := events.podStarts(ctx, sampleNS, pod)
	if err != nil {
		t.Error(err)
	}
	for _, b := range []struct {
		phase string
		at    time.Time
		what  string
	}{
		{coldstart.PhaseSandbox, sandbox, "containerd's start of the sandbox"},
		{coldstart.PhaseContainers, containers, "containerd's start of the last container"},
	} {
		if b.at.IsZero() {
			continue
		}
		if d := end(phases[b.phase]).Sub(b.at); d.Abs() > boundarySlack {
			t.Errorf("%s ends %s from %s, want within %s", b.phase, d, b.what, boundarySlack)
		} else {
			t.Logf("%s ends %s from %s", b.phase, d.Round(10*time.Microsecond), b.what)
		}
	}

	// Boundaries against the pod's conditions (one-second resolution).
	i := slices.IndexFunc(pods.Items, func(p corev1.Pod) bool { return p.Name == pod })
	if i < 0 {
		t.Errorf("podstart names pod %s; the Service's pods after the requests were %d others", pod, len(pods.Items))
		return tr
	}
	p := &pods.Items[i]
	conds := map[corev1.PodConditionType]time.Time{}
	for _, cond := range p.Status.Conditions {
		conds[cond.Type] = cond.LastTransitionTime.Time
	}
	for _, b := range []struct {
		phase string
		at    time.Time
		what  string
	}{
		{coldstart.PhaseScaleUp, p.CreationTimestamp.Time, "the pod's creationTimestamp"},
		{coldstart.PhaseScheduling, conds[corev1.PodScheduled], "its PodScheduled condition"},
		{coldstart.PhaseReadiness, conds[corev1.PodReady], "its Ready condition"},
	} {
		got := end(phases[b.phase])
		if b.at.IsZero() || got.Truncate(time.Second).Sub(b.at.Truncate(time.Second)).Abs() > time.Second {
			t.Errorf("%s ends at %s, %s is %s: want the same second", b.phase, got.Format(time.StampMicro), b.what, b.at.Format(time.StampMicro))
		}
	}
	return tr
}

// revisionImage is the image, by digest, of the Knative Service's latest
// revision's user container as the node pulls it.
func (c *Cluster) revisionImage(ctx context.Context, service string) (string, error) {
	pods, err := c.Client.CoreV1().Pods(sampleNS).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=" + service})
	if err == nil && len(pods.Items) > 0 {
		return pods.Items[0].Spec.Containers[0].Image, nil
	}
	out, err := c.Kubectl(ctx, "-n", sampleNS, "get", "revisions", "-l", "serving.knative.dev/service="+service,
		"-o", "jsonpath={.items[-1:].status.containerStatuses[0].imageDigest}")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(out) == "" {
		return "", fmt.Errorf("revision of %s has no image digest", service)
	}
	return strings.TrimSpace(out), nil
}

// podstartLog is podstart's log, for a failure's message.
func (c *Cluster) podstartLog(ctx context.Context) string {
	pods, err := c.Client.CoreV1().Pods(KntraceNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=podstart"})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no podstart pod: %v)", err)
	}
	log, err := c.PodLog(ctx, KntraceNamespace, pods.Items[0].Name, "podstart")
	if err != nil {
		return err.Error()
	}
	return log
}
