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

package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/webhook"
)

func envMap(s *servingv1.Service) map[string]string {
	out := map[string]string{}
	for _, e := range s.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

// waitFor polls check until it returns nil or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = check(ctx)
		cancel()
		if last == nil {
			return
		}
		<-tick.C
	}
	t.Fatalf("%s: not reached within %s: %v", what, timeout, last)
}

func cmData(ctx context.Context, kube kubernetes.Interface, ns, name string) (*corev1.ConfigMap, error) {
	return kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

// TestServingOnlyThenEventing: on a cluster with Knative Serving only,
// config/ installs, the webhook (as its least-privilege ServiceAccount)
// syncs, admits and converges serving; when Eventing is installed later it
// converges eventing's config-observability too, without a restart.
func TestServingOnlyThenEventing(t *testing.T) {
	bin := webhookBinary(t)
	srv := apiserver.StartForTest(t)
	c, err := startCluster(t, srv, t.TempDir(), manifests.ServingCore)
	if err != nil {
		t.Fatal(err)
	}
	kube := srv.Client
	if _, err := kube.CoreV1().Namespaces().Get(t.Context(), configmaps.EventingNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s before Eventing is installed: %v, want not found", configmaps.EventingNamespace, err)
	}
	// startWebhook waits until the API server's dry-run create comes back
	// injected: admission works without Eventing.
	if err := c.startWebhook(t, bin, "info"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.process.Stop)
	converged := func(ns string) func(context.Context) error {
		return func(ctx context.Context) error {
			cm, err := cmData(ctx, kube, ns, configmaps.ObservabilityConfigName)
			if err != nil {
				return err
			}
			if cm.Data[configmaps.ProtocolKey] != "grpc" || cm.Data[configmaps.EndpointKey] != settings.DefaultCollectorEndpoint {
				return fmt.Errorf("%s/%s not converged: %v", ns, cm.Name, cm.Data)
			}
			return nil
		}
	}
	waitFor(t, 30*time.Second, "serving's config-observability converged", converged(configmaps.ServingNamespace))
	if err := manifests.ApplySets(t.Context(), srv.Config, manifests.EventingCore); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "eventing's config-observability converged after Eventing was installed", converged(configmaps.EventingNamespace))
}

// TestWebhookOnRealAPIServer runs cmd/webhook as a process, with the
// kntrace-webhook ServiceAccount's token (config/200-rbac.yaml), behind a URL
// MutatingWebhookConfiguration on a real kube-apiserver with Knative 1.23's
// CRDs and ConfigMaps.
func TestWebhookOnRealAPIServer(t *testing.T) {
	bin := webhookBinary(t)
	srv := apiserver.StartForTest(t)
	c, err := startCluster(t, srv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Watch Knative's ConfigMaps from before the webhook starts, to count
	// every write the controller makes.
	writes := newWriteCounter(t, srv.Client)
	if err := c.startWebhook(t, bin, "info"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.process.Stop)
	kube := srv.Client
	ns := "default"
	services := c.serving.ServingV1().Services(ns)

	t.Run("controller converges Knative's ConfigMaps from config-kntrace", func(t *testing.T) {
		for _, kns := range webhook.KnativeNamespaces {
			waitFor(t, 30*time.Second, kns+" config-observability converged", func(ctx context.Context) error {
				cm, err := cmData(ctx, kube, kns, configmaps.ObservabilityConfigName)
				if err != nil {
					return err
				}
				want := map[string]string{
					configmaps.ProtocolKey:     "grpc",
					configmaps.EndpointKey:     settings.DefaultCollectorEndpoint,
					configmaps.SamplingRateKey: "0.1",
				}
				for k, v := range want {
					if cm.Data[k] != v {
						return fmt.Errorf("%s = %q, want %q", k, cm.Data[k], v)
					}
				}
				if cm.Data[configmaps.ExampleKey] == "" {
					return fmt.Errorf("_example lost")
				}
				return nil
			})
		}
		waitFor(t, 30*time.Second, "config-features allows podinfo", func(ctx context.Context) error {
			cm, err := cmData(ctx, kube, configmaps.ServingNamespace, webhook.FeaturesConfigName)
			if err != nil {
				return err
			}
			if v := cm.Data[webhook.MountPodInfoKey]; v != "allowed" {
				return fmt.Errorf("%s = %q", webhook.MountPodInfoKey, v)
			}
			return nil
		})
	})

	t.Run("a Service created with client-go comes back injected", func(t *testing.T) {
		ctx := ctxT(t)
		in := annotated("hello", map[string]string{conventions.SamplingRateAnnotation: "0.5", conventions.PropagatorsAnnotation: "b3,tracecontext"})
		got, err := services.Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := in.DeepCopy()
		want.Namespace = ns
		if _, err := revisions.Patch(revisions.ServiceTarget(want)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Spec.Template, got.Spec.Template); diff != "" {
			t.Errorf("stored template (-revisions.Patch +API server):\n%s", diff)
		}
		env := envMap(got)
		for k, v := range map[string]string{"GREETING": "hi", conventions.EnvSamplerArg: "0.5", conventions.EnvPropagators: "b3,tracecontext",
			conventions.EnvSampler: conventions.Sampler, conventions.EnvServiceName: "hello", conventions.EnvEndpoint: settings.DefaultCollectorHTTPEndpoint} {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		if got.Spec.Template.Annotations[conventions.PodInfoAnnotation] != "enabled" {
			t.Errorf("template annotations %v: want %s: enabled", got.Spec.Template.Annotations, conventions.PodInfoAnnotation)
		}
	})

	t.Run("a bad annotation is denied with its name", func(t *testing.T) {
		ctx := ctxT(t)
		for _, tc := range []struct {
			name, key, value, accepted string
		}{
			{"bad-rate", conventions.SamplingRateAnnotation, "1.5", "[0, 1]"},
			{"bad-propagator", conventions.PropagatorsAnnotation, "tracecontext,w3c", "b3multi"},
		} {
			_, err := services.Create(ctx, annotated(tc.name, map[string]string{tc.key: tc.value}), metav1.CreateOptions{})
			if err == nil {
				t.Fatalf("%s=%s admitted, want denied", tc.key, tc.value)
			}
			for _, w := range []string{tc.key, tc.accepted, "denied the request"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		}
	})

	t.Run("namespace label turns injection on", func(t *testing.T) {
		ctx := ctxT(t)
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: "labelled", Labels: map[string]string{conventions.NamespaceLabel: conventions.NamespaceEnabled}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The webhook reads labels from an informer: wait for it to see the
		// namespace.
		waitFor(t, 10*time.Second, "injection from the namespace label", func(ctx context.Context) error {
			got, err := c.serving.ServingV1().Services("labelled").Create(ctx, plain("nolabel", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			if !revisions.Injected(&got.Spec.Template) {
				return fmt.Errorf("not injected")
			}
			return nil
		})
	})

	t.Run("kn trace enable twice keeps the generation, disable restores the template", func(t *testing.T) {
		ctx := ctxT(t)
		orig, err := services.Create(ctx, plain("enable-me", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if revisions.Injected(&orig.Spec.Template) {
			t.Fatal("a Service without annotations was injected")
		}
		run := func(args ...string) string {
			t.Helper()
			var out, errb bytes.Buffer
			code := cli.Execute(ctx, append(args, "--kubeconfig", srv.Kubeconfig, "-n", ns), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != 0 {
				t.Fatalf("kn trace %v: exit %d: %s%s", args, code, out.String(), errb.String())
			}
			return out.String()
		}
		out := run("enable", "enable-me", "--sampling-rate", "1")
		if !strings.Contains(out, "kntrace webhook") {
			t.Errorf("enable output %q does not say the webhook patched the template", out)
		}
		first, err := services.Get(ctx, "enable-me", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !revisions.Injected(&first.Spec.Template) || envMap(first)[conventions.EnvSamplerArg] != "1" {
			t.Fatalf("after enable: env %v, want injected with sampler arg 1", envMap(first))
		}
		if first.Generation == orig.Generation {
			t.Errorf("enable did not change the template (generation %d)", first.Generation)
		}
		if out := run("enable", "enable-me", "--sampling-rate", "1"); !strings.Contains(out, "unchanged") {
			t.Errorf("second enable output %q, want unchanged", out)
		}
		second, err := services.Get(ctx, "enable-me", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if second.Generation != first.Generation || second.ResourceVersion != first.ResourceVersion {
			t.Errorf("second enable: generation %d → %d, resourceVersion %s → %s; want both unchanged",
				first.Generation, second.Generation, first.ResourceVersion, second.ResourceVersion)
		}
		run("disable", "enable-me")
		after, err := services.Get(ctx, "enable-me", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(orig.Spec.Template, after.Spec.Template); diff != "" {
			t.Errorf("disable did not restore the template (-before enable +after disable):\n%s", diff)
		}
	})

	t.Run("controller corrects drift and writes nothing when nothing changed", func(t *testing.T) {
		ctx := ctxT(t)
		settled := writes.snapshot(t)
		// A change of config-kntrace that changes no setting: reconciles,
		// writes nothing.
		cfg, err := cmData(ctx, kube, conventions.SystemNamespace, settings.ConfigName)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Annotations["touched"] = "yes"
		if _, err := kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Drift: someone edits eventing's sampling rate by hand.
		obs, err := cmData(ctx, kube, configmaps.EventingNamespace, configmaps.ObservabilityConfigName)
		if err != nil {
			t.Fatal(err)
		}
		obs.Data[configmaps.SamplingRateKey] = "0.9"
		if _, err := kube.CoreV1().ConfigMaps(configmaps.EventingNamespace).Update(ctx, obs, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "drift corrected", func(ctx context.Context) error {
			cm, err := cmData(ctx, kube, configmaps.EventingNamespace, configmaps.ObservabilityConfigName)
			if err != nil {
				return err
			}
			if v := cm.Data[configmaps.SamplingRateKey]; v != "0.1" {
				return fmt.Errorf("%s = %q", configmaps.SamplingRateKey, v)
			}
			return nil
		})
		// The queue is serial: once the correction is seen, every event
		// before it has been reconciled. The only new writes are the test's
		// own edit and the one correction.
		got := writes.snapshot(t)
		want := map[string]int{}
		for k, v := range settled {
			want[k] = v
		}
		want[configmaps.EventingNamespace+"/"+configmaps.ObservabilityConfigName] += 2
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("writes per ConfigMap since the controller settled (-want +got):\n%s", diff)
		}
		t.Logf("writes per Knative ConfigMap during the whole test: %v", got)
	})

	t.Run("with the webhook stopped, creates still succeed (failurePolicy Ignore)", func(t *testing.T) {
		c.process.Stop()
		ctx := ctxT(t)
		start := time.Now()
		got, err := services.Create(ctx, annotated("while-down", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create with the webhook down: %v", err)
		}
		if revisions.Injected(&got.Spec.Template) {
			t.Error("injected although the webhook is down")
		}
		t.Logf("create with the webhook down took %v", time.Since(start))
	})
}

// writeCounter counts MODIFIED events of Knative's ConfigMaps, by
// namespace/name, through a watch on each namespace.
type writeCounter struct {
	kube kubernetes.Interface
	ch   chan writeState
	n    int
}

type writeState struct {
	counts map[string]int
	added  map[string]bool
}

func newWriteCounter(t *testing.T, kube kubernetes.Interface) *writeCounter {
	t.Helper()
	w := &writeCounter{kube: kube, ch: make(chan writeState)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := make(chan watch.Event)
	for _, ns := range webhook.KnativeNamespaces {
		wi, err := kube.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(wi.Stop)
		go func() {
			for ev := range wi.ResultChan() {
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		st := writeState{counts: map[string]int{}, added: map[string]bool{}}
		for {
			select {
			case ev := <-events:
				cm, ok := ev.Object.(*corev1.ConfigMap)
				if !ok {
					continue
				}
				key := cm.Namespace + "/" + cm.Name
				switch ev.Type {
				case watch.Modified:
					st.counts[key]++
				case watch.Added:
					st.added[key] = true
				}
			case w.ch <- writeState{counts: clone(st.counts), added: maps.Clone(st.added)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return w
}

func clone(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// snapshot creates a barrier ConfigMap in each Knative namespace and, once
// the watches delivered them (a watch delivers in order), returns the
// counts: every write made before the call is in them.
func (w *writeCounter) snapshot(t *testing.T) map[string]int {
	t.Helper()
	w.n++
	name := fmt.Sprintf("kntrace-test-barrier-%d", w.n)
	for _, ns := range webhook.KnativeNamespaces {
		if _, err := w.kube.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var st writeState
	waitFor(t, 10*time.Second, "barrier "+name+" seen by the watches", func(context.Context) error {
		st = <-w.ch
		for _, ns := range webhook.KnativeNamespaces {
			if !st.added[ns+"/"+name] {
				return fmt.Errorf("%s/%s not seen yet", ns, name)
			}
		}
		return nil
	})
	return st.counts
}
