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

package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/doctor"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/manifests"
)

// fakeWebhook stands in for kntrace's webhook (cmd/webhook): it adds
// OTEL_EXPORTER_OTLP_ENDPOINT to every container of a Service annotated
// kntrace.dev/inject=true.
type fakeWebhook struct {
	srv    *httptest.Server
	inject atomic.Bool
	broken atomic.Bool
}

func startFakeWebhook(t *testing.T) *fakeWebhook {
	w := &fakeWebhook{}
	w.inject.Store(true)
	w.srv = httptest.NewTLSServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *fakeWebhook) serve(rw http.ResponseWriter, r *http.Request) {
	if w.broken.Load() {
		http.Error(rw, "broken on purpose", http.StatusInternalServerError)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(rw, "bad review", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	var svc servingv1.Service
	if err := json.Unmarshal(review.Request.Object.Raw, &svc); err == nil && w.inject.Load() && svc.Annotations[conventions.InjectAnnotation] == "true" {
		var ops []map[string]any
		env := corev1.EnvVar{Name: conventions.EnvEndpoint, Value: "http://127.0.0.1:4318"}
		for i, c := range svc.Spec.Template.Spec.Containers {
			if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == conventions.EnvEndpoint }) {
				continue
			}
			path := fmt.Sprintf("/spec/template/spec/containers/%d/env", i)
			if len(c.Env) == 0 {
				ops = append(ops, map[string]any{"op": "add", "path": path, "value": []corev1.EnvVar{env}})
			} else {
				ops = append(ops, map[string]any{"op": "add", "path": path + "/-", "value": env})
			}
		}
		if len(ops) > 0 {
			patch, _ := json.Marshal(ops)
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
	}
	review.Response, review.Request = resp, nil
	_ = json.NewEncoder(rw).Encode(review)
}

func (w *fakeWebhook) config() *admissionregistrationv1.MutatingWebhookConfiguration {
	url := w.srv.URL + "/mutate"
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.srv.Certificate().Raw})
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: conventions.WebhookConfigurationName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    conventions.WebhookConfigurationName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"serving.knative.dev"}, APIVersions: []string{"v1"}, Resources: []string{"services"}}}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

// doctorWorld is a real API server with Knative 1.23's resources, a real
// Collector and Jaeger, and a correct kntrace setup.
type doctorWorld struct {
	srv     *apiserver.Server
	kube    kubernetes.Interface
	serving servingclient.Interface
	stack   *backends.Stack
	webhook *fakeWebhook
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newDoctorWorld(t *testing.T) *doctorWorld {
	ctx := context.Background()
	w := &doctorWorld{srv: apiserver.StartForTest(t)}
	if err := manifests.ApplySets(ctx, w.srv.Config, manifests.ServingCore, manifests.EventingCore); err != nil {
		t.Fatalf("apply Knative manifests: %v", err)
	}
	w.kube = w.srv.Client
	w.serving = must[servingclient.Interface](t)(servingclient.NewForConfig(w.srv.Config))
	w.stack = backends.Start(t, true)
	w.webhook = startFakeWebhook(t)

	version := map[string]string{"app.kubernetes.io/version": "1.23.0"}
	deploy := func(ns, name, image string, labels map[string]string) {
		t.Helper()
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}},
				},
			},
		}
		created := must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}))
		created.Status.Replicas, created.Status.ReadyReplicas = 1, 1
		must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
	}
	for _, ns := range []string{conventions.SystemNamespace, "demo"} {
		must[*corev1.Namespace](t)(w.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	}
	deploy(configmaps.ServingNamespace, "controller", "gcr.io/knative-releases/knative.dev/serving/cmd/controller:v1.23.0", version)
	deploy(configmaps.ServingNamespace, "activator", "kntrace.dev/activator:test", version)
	deploy(configmaps.EventingNamespace, "eventing-controller", "gcr.io/knative-releases/knative.dev/eventing/cmd/controller:v1.23.0", version)
	deploy(conventions.SystemNamespace, conventions.WebhookDeployment, "kntrace.dev/webhook:test", nil)

	cc := configmaps.NewClient(w.kube)
	proto, endpoint, rate := "grpc", w.stack.Collector.GRPCEndpoint(), 1.0
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		if _, err := cc.Set(ctx, ns, configmaps.Change{Protocol: &proto, Endpoint: &endpoint, SamplingRate: &rate}, configmaps.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w.patchCM(t, configmaps.ServingNamespace, "config-deployment", map[string]*string{"queue-sidecar-image": ptrTo("kntrace.dev/queue:test")})
	w.patchCM(t, configmaps.ServingNamespace, "config-features", map[string]*string{"queueproxy.mount-podinfo": ptrTo("enabled")})
	w.installWebhook(t)
	w.createService(t, "demo", "hello", true)
	return w
}

// installWebhook creates the MutatingWebhookConfiguration and waits until
// the API server calls the webhook (its configuration is picked up
// asynchronously).
func (w *doctorWorld) installWebhook(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	must[*admissionregistrationv1.MutatingWebhookConfiguration](t)(w.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, w.webhook.config(), metav1.CreateOptions{}))
	probe := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "wait-for-webhook", Namespace: "demo", Annotations: map[string]string{conventions.InjectAnnotation: "true"}},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "x"}}}},
		}}},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := w.serving.ServingV1().Services("demo").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && slices.ContainsFunc(got.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == conventions.EnvEndpoint }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server did not call the webhook within 30s (last: %v)", err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func ptrTo[T any](v T) *T { return &v }

// patchCM sets (or with nil deletes) keys of a ConfigMap the way a user
// editing it by hand would, and returns the undo.
func (w *doctorWorld) patchCM(t *testing.T, ns, name string, edits map[string]*string) func() {
	t.Helper()
	ctx := context.Background()
	cm := must[*corev1.ConfigMap](t)(w.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}))
	before := map[string]*string{}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	for k, v := range edits {
		if old, ok := cm.Data[k]; ok {
			before[k] = ptrTo(old)
		} else {
			before[k] = nil
		}
		if v == nil {
			delete(cm.Data, k)
		} else {
			cm.Data[k] = *v
		}
	}
	must[*corev1.ConfigMap](t)(w.kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}))
	return func() { w.patchCM(t, ns, name, before) }
}

func (w *doctorWorld) createService(t *testing.T, ns, name string, annotated bool) {
	t.Helper()
	s := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ko://github.com/kntrace/kntrace/samples/hello"}}}},
		}}},
	}
	if annotated {
		s.Annotations = map[string]string{conventions.InjectAnnotation: "true"}
	}
	must[*servingv1.Service](t)(w.serving.ServingV1().Services(ns).Create(context.Background(), s, metav1.CreateOptions{}))
}

func (w *doctorWorld) doctor(t *testing.T, args ...string) (int, doctor.Report, string) {
	t.Helper()
	base := []string{"doctor", "--kubeconfig", w.srv.Kubeconfig, "--jaeger", w.stack.Jaeger.QueryGRPC, "-n", "demo", "--timeout", "3s", "-o", "json"}
	code, out, stderr := run(t, append(base, args...)...)
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor -o json: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	return code, r, stderr
}

func notPassed(r doctor.Report) []doctor.Check {
	var out []doctor.Check
	for _, c := range r.Checks {
		if c.Status != doctor.StatusPass {
			out = append(out, c)
		}
	}
	return out
}

func TestDoctorAgainstAPIServer(t *testing.T) {
	w := newDoctorWorld(t)
	ctx := context.Background()

	t.Run("correct setup passes", func(t *testing.T) {
		code, r, stderr := w.doctor(t)
		if code != ExitOK || len(notPassed(r)) != 0 {
			t.Fatalf("exit %d (%s), checks not passed: %+v", code, stderr, notPassed(r))
		}
		want := map[string]string{
			"knative/knative-serving": "Knative 1.23.0, reads config-observability",
			"collector":               "(from knative-serving/config-observability) accepts connections",
			"jaeger":                  "answers",
			"webhook/answering":       "came back with OTEL_EXPORTER_OTLP_ENDPOINT injected",
			"services":                "1 Services in namespace demo ask for injection, all injected",
			"queue-proxy":             "kntrace.dev/queue:test",
			"activator":               "kntrace.dev/activator:test",
			"podinfo":                 "enabled",
		}
		for name, msg := range want {
			found := false
			for _, c := range r.Checks {
				found = found || (c.Name == name && strings.Contains(c.Message, msg))
			}
			if !found {
				t.Errorf("no passing check %s with %q in %+v", name, msg, r.Checks)
			}
		}
		code, out, _ := run(t, "doctor", "--kubeconfig", w.srv.Kubeconfig, "--jaeger", w.stack.Jaeger.QueryGRPC, "-n", "demo")
		t.Logf("kn trace doctor:\n%s", out)
		if code != ExitOK || !strings.Contains(out, "PASS  jaeger: ") || !strings.Contains(out, "0 warnings, 0 failed") {
			t.Errorf("text report (exit %d):\n%s", code, out)
		}
	})

	obs := configmaps.ObservabilityConfigName
	serving, eventing := configmaps.ServingNamespace, configmaps.EventingNamespace
	collector := w.stack.Collector.GRPCEndpoint()
	tests := []struct {
		name       string
		args       []string
		break_     func(t *testing.T) (undo func())
		wantName   string
		wantStatus doctor.Status
		wantMsg    string
		wantFix    string
	}{{
		name: "IP:port endpoint crash-loops Knative",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, serving, obs, map[string]*string{configmaps.EndpointKey: ptrTo("10.0.0.1:4317")})
		},
		wantName: "config/knative-serving/config-observability", wantStatus: doctor.StatusFail, wantMsg: "crash-loops", wantFix: "http://10.0.0.1:4317",
	}, {
		name: "scheme-less endpoint silently becomes https",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, eventing, obs, map[string]*string{configmaps.EndpointKey: ptrTo("otel-collector:4317")})
		},
		wantName: "config/knative-eventing/config-observability", wantStatus: doctor.StatusFail, wantMsg: "https://otel-collector:4317", wantFix: "http://otel-collector:4317",
	}, {
		name: "protocol without a rate samples nothing",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, serving, obs, map[string]*string{configmaps.SamplingRateKey: nil})
		},
		wantName: "config/knative-serving/config-observability", wantStatus: doctor.StatusFail, wantMsg: "Knative uses 0", wantFix: "--sampling-rate 0.1",
	}, {
		name: "grpc endpoint with an HTTP path",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, serving, obs, map[string]*string{configmaps.EndpointKey: ptrTo(collector + "/v1/traces")})
		},
		wantName: "config/knative-serving/config-observability", wantStatus: doctor.StatusFail, wantMsg: "grpc ignores paths", wantFix: "protocol http/protobuf",
	}, {
		name: "http/protobuf endpoint without a path",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, eventing, obs, map[string]*string{configmaps.ProtocolKey: ptrTo("http/protobuf"), configmaps.EndpointKey: ptrTo("http://" + w.stack.Collector.HTTP)})
		},
		wantName: "config/knative-eventing/config-observability", wantStatus: doctor.StatusFail, wantMsg: "posts to the URL exactly as given", wantFix: "http://" + w.stack.Collector.HTTP + "/v1/traces",
	}, {
		name: "OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER on the activator",
		break_: func(t *testing.T) func() {
			d := must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(serving).Get(ctx, "activator", metav1.GetOptions{}))
			d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OTEL_TRACES_SAMPLER_ARG", Value: "0.5"}}
			must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(serving).Update(ctx, d, metav1.UpdateOptions{}))
			return func() {
				d := must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(serving).Get(ctx, "activator", metav1.GetOptions{}))
				d.Spec.Template.Spec.Containers[0].Env = nil
				must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(serving).Update(ctx, d, metav1.UpdateOptions{}))
			}
		},
		wantName: "env/OTEL_TRACES_SAMPLER", wantStatus: doctor.StatusFail, wantMsg: "knative-serving/activator container activator sets OTEL_TRACES_SAMPLER_ARG=\"0.5\"",
		wantFix: "set env deployment/activator -c activator OTEL_TRACES_SAMPLER=parentbased_traceidratio",
	}, {
		name: "configured collector not reachable",
		break_: func(t *testing.T) func() {
			dead := "http://" + closedAddr(t)
			u1 := w.patchCM(t, serving, obs, map[string]*string{configmaps.EndpointKey: &dead})
			u2 := w.patchCM(t, eventing, obs, map[string]*string{configmaps.EndpointKey: &dead})
			return func() { u1(); u2() }
		},
		wantName: "collector", wantStatus: doctor.StatusFail, wantMsg: "is not reachable", wantFix: "start the collector",
	}, {
		name: "OTLP/HTTP collector answers 404 at the configured path",
		break_: func(t *testing.T) func() {
			edits := map[string]*string{configmaps.ProtocolKey: ptrTo("http/protobuf"), configmaps.EndpointKey: ptrTo("http://" + w.stack.Collector.HTTP + "/v1/trace")}
			u1 := w.patchCM(t, serving, obs, edits)
			u2 := w.patchCM(t, eventing, obs, edits)
			return func() { u1(); u2() }
		},
		wantName: "collector", wantStatus: doctor.StatusFail, wantMsg: "404: no OTLP/HTTP receiver at this path", wantFix: "/v1/traces",
	}, {
		name:     "--collector not reachable",
		args:     []string{"--collector", closedAddr(t)},
		wantName: "collector", wantStatus: doctor.StatusFail, wantMsg: "(from --collector) is not reachable",
	}, {
		name:     "Jaeger not reachable",
		args:     []string{"--jaeger", closedAddr(t)},
		wantName: "jaeger", wantStatus: doctor.StatusFail, wantMsg: "unreachable", wantFix: "--jaeger HOST:PORT",
	}, {
		name: "webhook not installed",
		break_: func(t *testing.T) func() {
			if err := w.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, conventions.WebhookConfigurationName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			return func() { w.installWebhook(t) }
		},
		wantName: "webhook/installed", wantStatus: doctor.StatusFail, wantMsg: "MutatingWebhookConfiguration kntrace.webhook.kntrace.dev not found", wantFix: "ko apply -Rf config/",
	}, {
		name: "webhook Deployment not ready",
		break_: func(t *testing.T) func() {
			setReady := func(n int32) {
				d := must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(conventions.SystemNamespace).Get(ctx, conventions.WebhookDeployment, metav1.GetOptions{}))
				d.Status.ReadyReplicas = n
				must[*appsv1.Deployment](t)(w.kube.AppsV1().Deployments(conventions.SystemNamespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}))
			}
			setReady(0)
			return func() { setReady(1) }
		},
		wantName: "webhook/deployment", wantStatus: doctor.StatusFail, wantMsg: "has no ready replica", wantFix: "logs deployment/kntrace-webhook",
	}, {
		name: "webhook not answering",
		break_: func(t *testing.T) func() {
			w.webhook.broken.Store(true)
			return func() { w.webhook.broken.Store(false) }
		},
		wantName: "webhook/answering", wantStatus: doctor.StatusFail, wantMsg: "was not admitted", wantFix: "caBundle",
	}, {
		name: "webhook answering without injecting",
		break_: func(t *testing.T) func() {
			w.webhook.inject.Store(false)
			return func() { w.webhook.inject.Store(true) }
		},
		wantName: "webhook/answering", wantStatus: doctor.StatusFail, wantMsg: "the webhook did not inject", wantFix: "objectSelector",
	}, {
		name: "Service applied while the webhook was down",
		break_: func(t *testing.T) func() {
			w.webhook.inject.Store(false)
			w.createService(t, "demo", "stale", true)
			w.webhook.inject.Store(true)
			return func() {
				if err := w.serving.ServingV1().Services("demo").Delete(ctx, "stale", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		},
		wantName: "services", wantStatus: doctor.StatusFail, wantMsg: "Service demo/stale asks for injection but its template has no OTEL_EXPORTER_OTLP_ENDPOINT",
		wantFix: "kubectl -n demo annotate ksvc stale kntrace.dev/inject=true --overwrite",
	}, {
		name: "annotation on the template, where kn trace enable writes it",
		break_: func(t *testing.T) func() {
			s := &servingv1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "enabled-on-template", Namespace: "demo"},
				Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{conventions.InjectAnnotation: "true"}},
					Spec:       servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}}},
				}}},
			}
			w.webhook.inject.Store(false)
			must[*servingv1.Service](t)(w.serving.ServingV1().Services("demo").Create(ctx, s, metav1.CreateOptions{}))
			w.webhook.inject.Store(true)
			return func() {
				if err := w.serving.ServingV1().Services("demo").Delete(ctx, "enabled-on-template", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		},
		wantName: "services", wantStatus: doctor.StatusFail, wantMsg: "Service demo/enabled-on-template asks for injection but its template has no OTEL_EXPORTER_OTLP_ENDPOINT",
		wantFix: "kubectl -n demo annotate ksvc enabled-on-template",
	}, {
		name: "an app's OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER is a warning",
		break_: func(t *testing.T) func() {
			s := &servingv1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "sampled", Namespace: "demo"},
				Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
					Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x",
						Env: []corev1.EnvVar{{Name: "OTEL_TRACES_SAMPLER_ARG", Value: "0.25"}}}}}},
				}}},
			}
			must[*servingv1.Service](t)(w.serving.ServingV1().Services("demo").Create(ctx, s, metav1.CreateOptions{}))
			return func() {
				if err := w.serving.ServingV1().Services("demo").Delete(ctx, "sampled", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		},
		wantName: "services", wantStatus: doctor.StatusWarn, wantMsg: `Service demo/sampled container "app" sets OTEL_TRACES_SAMPLER_ARG="0.25" without OTEL_TRACES_SAMPLER`,
		wantFix: "add OTEL_TRACES_SAMPLER=parentbased_traceidratio",
	}, {
		name: "upstream queue-proxy is a warning",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, serving, "config-deployment", map[string]*string{"queue-sidecar-image": ptrTo("gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.23.0")})
		},
		wantName: "queue-proxy", wantStatus: doctor.StatusWarn, wantMsg: "upstream queue-proxy", wantFix: "queue-sidecar-image",
	}, {
		name: "podinfo disabled is a warning",
		break_: func(t *testing.T) func() {
			return w.patchCM(t, serving, "config-features", map[string]*string{"queueproxy.mount-podinfo": ptrTo("disabled")})
		},
		wantName: "podinfo", wantStatus: doctor.StatusWarn, wantMsg: `queueproxy.mount-podinfo is "disabled"`, wantFix: `"queueproxy.mount-podinfo":"enabled"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.break_ != nil {
				undo := tc.break_(t)
				defer undo()
			}
			code, r, stderr := w.doctor(t, tc.args...)
			wantCode := ExitOK
			if tc.wantStatus == doctor.StatusFail {
				wantCode = ExitDiagnose
			}
			if code != wantCode {
				t.Errorf("exit %d (%s), want %d", code, stderr, wantCode)
			}
			bad := notPassed(r)
			if len(bad) != 1 {
				t.Fatalf("checks not passed: %+v; want exactly one %s %s", bad, tc.wantStatus, tc.wantName)
			}
			c := bad[0]
			if c.Name != tc.wantName || c.Status != tc.wantStatus || !strings.Contains(c.Message, tc.wantMsg) || !strings.Contains(c.Fix, tc.wantFix) {
				t.Errorf("check = %+v\nwant name %s, status %s, message with %q, fix with %q", c, tc.wantName, tc.wantStatus, tc.wantMsg, tc.wantFix)
			}
			if tc.wantStatus == doctor.StatusFail && c.Fix == "" {
				t.Error("a failure without a fix")
			}
		})
	}
}
