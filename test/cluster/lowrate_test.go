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
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/settings"
)

// Cold starts at a low sampling rate: lowRateServices Services, each woken
// lowRateRounds times.
const (
	lowRate         = "0.01"
	lowRateServices = 10
	lowRateRounds   = 5
)

// testColdStartsAtLowSampling: with the sampling rate at 0.01 (config-kntrace,
// which kntrace's controller writes into Knative's ConfigMaps; the
// activator restarted to read it), 50 cold starts of requests that carry no
// trace context are 50 traces, each with the activator's marked request
// span and podstart's Kubernetes phases: the activator keeps every new
// trace that waits for a cold start, whatever the rate.
func testColdStartsAtLowSampling(t *testing.T, c *Cluster) {
	ctx := context.Background()
	started := time.Now()
	if err := c.setSamplingRate(ctx, lowRate); err != nil {
		t.Fatal(err)
	}
	image, err := c.revisionImage(ctx, coldStartTarget)
	if err != nil {
		t.Fatal(err)
	}
	serving := c.servingClient(t)
	namespaces := make([]string, lowRateServices)
	for i := range namespaces {
		ns := fmt.Sprintf("lowrate-%d", i)
		namespaces[i] = ns
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &servingv1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: coldStartTarget, Namespace: ns, Annotations: map[string]string{conventions.InjectAnnotation: "true"}},
		}
		svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: image, Env: []corev1.EnvVar{{Name: "GREETING", Value: "Knative"}}}}
		if _, err := serving.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range namespaces {
		if err := c.WaitServiceReady(ctx, ns, coldStartTarget, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitRoute(ctx, ns, coldStartTarget, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	selector := "serving.knative.dev/service=" + coldStartTarget
	for round := range lowRateRounds {
		for _, ns := range namespaces {
			if err := c.WaitNoPods(ctx, ns, selector, 3*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]string, len(namespaces))
		for i, ns := range namespaces {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := c.NewIngressRequest(ctx, http.MethodGet, ns, coldStartTarget, coldStartPath)
				if err != nil {
					errs[i] = err.Error()
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err.Error()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs[i] = resp.Status
				}
			}()
		}
		wg.Wait()
		for i, e := range errs {
			if e != "" {
				t.Errorf("round %d, %s: %s; want 200", round, namespaces[i], e)
			}
		}
		if t.Failed() {
			return
		}
	}

	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	want := lowRateServices * lowRateRounds
	var complete map[string]int
	var lacking []string // cold-start traces without their complete phases
	if err := c.poll(ctx, 3*time.Minute, fmt.Sprintf("%d cold-start traces with their Kubernetes phases", want), func(ctx context.Context) (string, error) {
		// Every request that found no backend, so that one the activator
		// failed to mark is listed too.
		raws, err := jc.FindTraces(ctx, jaeger.Query{
			Service: jaeger.ActivatorService, Tags: map[string]string{activatorhooks.AttrZeroBackends: "true"}, StartMin: started, Limit: 4 * want,
		})
		if err != nil {
			return err.Error(), nil
		}
		complete, lacking = map[string]int{}, nil
		for _, raw := range raws {
			tr, err := jaeger.Build(raw)
			if err != nil {
				return err.Error(), nil
			}
			ns, marked, phases := traceNamespace(tr), false, -1
			for _, s := range tr.Spans {
				marked = marked || s.ColdStart && s.Service == jaeger.ActivatorService
				if s.OperationName == coldstart.SpanKubernetes {
					phases = len(s.Children)
				}
			}
			if marked && phases == len(coldstart.KubernetesPhases()) {
				complete[ns]++
				continue
			}
			lacking = append(lacking, fmt.Sprintf("%s (%s, %d spans, faas.coldstart %v, Kubernetes phases %d)", tr.TraceID, ns, tr.SpanCount, marked, phases))
		}
		if total := len(raws) - len(lacking); total < want {
			return fmt.Sprintf("%d complete of %d (by namespace %v; %d traces, lacking phases: %v)", total, want, complete, len(raws), lacking), nil
		}
		return "", nil
	}); err != nil {
		t.Fatalf("%v\npodstart's log:\n%s\nthe activator's log about cold starts:\n%s", err, c.podstartLog(ctx), c.activatorColdStartLog(ctx))
	}
	for _, ns := range namespaces {
		if complete[ns] != lowRateRounds {
			t.Errorf("%s: %d cold-start traces with phases, want %d", ns, complete[ns], lowRateRounds)
		}
	}
	t.Logf("at sampling rate %s: %d cold starts, %d traces with their Kubernetes phases (%v)", lowRate, want, want, complete)
}

// setSamplingRate sets config-kntrace's rate, waits for kntrace's
// controller to write it into Knative Serving's config-observability, and
// restarts the activator, which reads it when it starts.
func (c *Cluster) setSamplingRate(ctx context.Context, rate string) error {
	cms := c.Client.CoreV1().ConfigMaps(KntraceNamespace)
	cm, err := cms.Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Data[settings.SamplingRateKey] = rate
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if err := c.poll(ctx, time.Minute, "config-observability's rate "+rate, func(ctx context.Context) (string, error) {
		obs, err := c.Client.CoreV1().ConfigMaps(ServingNamespace).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if v := obs.Data[configmaps.SamplingRateKey]; v != rate {
			return configmaps.SamplingRateKey + " " + v, nil
		}
		return "", nil
	}); err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "-n", ServingNamespace, "rollout", "restart", "deployment/activator"); err != nil {
		return err
	}
	_, err = c.Kubectl(ctx, "-n", ServingNamespace, "rollout", "status", "deployment/activator", "--timeout=110s")
	return err
}

// traceNamespace is the k8s.namespace.name of tr's first span that names
// one ("" if none does).
func traceNamespace(tr *jaeger.Trace) string {
	for _, s := range tr.Spans {
		if ns, ok := s.Tags["k8s.namespace.name"].(string); ok {
			return ns
		}
	}
	return ""
}

// activatorColdStartLog is what the activators logged about cold starts
// and podstart (their warnings name what cost a cold start its phases).
func (c *Cluster) activatorColdStartLog(ctx context.Context) string {
	pods, err := c.Client.CoreV1().Pods(ServingNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=activator"})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no activator pod: %v)", err)
	}
	var b strings.Builder
	for _, p := range pods.Items {
		log, err := c.PodLog(ctx, ServingNamespace, p.Name, "activator")
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p.Name, err)
			continue
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "cold start") || strings.Contains(line, "cold-start") || strings.Contains(line, "podstart") {
				fmt.Fprintf(&b, "%s: %s\n", p.Name, line)
			}
		}
	}
	return b.String()
}
