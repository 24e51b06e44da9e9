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

package revisions_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
)

// service is a Knative Service with one container holding env.
func service(meta, tmpl map[string]string, env ...corev1.EnvVar) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo", Annotations: meta}}
	s.Spec.Template.Annotations = tmpl
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello", Env: env}}
	return s
}

func envOf(s *servingv1.Service, i int) map[string]string {
	out := map[string]string{}
	for _, e := range s.Spec.Template.Spec.Containers[i].Env {
		out[e.Name] = e.Value
	}
	return out
}

func injectedEnv(rate, propagators, endpoint string) map[string]string {
	return map[string]string{
		conventions.EnvServiceName:        "hello",
		conventions.EnvEndpoint:           endpoint,
		conventions.EnvProtocol:           "http/protobuf",
		conventions.EnvPropagators:        propagators,
		conventions.EnvSampler:            "parentbased_traceidratio",
		conventions.EnvSamplerArg:         rate,
		conventions.EnvResourceAttributes: "k8s.namespace.name=demo,telemetry.distro.name=kntrace,telemetry.distro.version=v1.2.3",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestPatchService(t *testing.T) {
	on := map[string]string{conventions.InjectAnnotation: "true"}
	collector := settings.DefaultCollectorHTTPEndpoint
	relayCfg := settings.DefaultConfig()
	relayCfg.KntraceQueueProxy = true
	tests := []struct {
		name     string
		svc      *servingv1.Service
		opts     []revisions.Option
		wantEnv  map[string]string
		wantPod  bool
		wantErr  []string
		unchange bool
	}{{
		name:     "not asked for",
		svc:      service(nil, nil),
		wantEnv:  map[string]string{},
		unchange: true,
	}, {
		name:    "annotation on the metadata, defaults from config-kntrace",
		svc:     service(on, nil),
		wantEnv: injectedEnv("0.1", "tracecontext,baggage", collector),
		wantPod: true,
	}, {
		name:    "annotation on the template",
		svc:     service(nil, on),
		wantEnv: injectedEnv("0.1", "tracecontext,baggage", collector),
		wantPod: true,
	}, {
		name: "template overrides metadata",
		svc: service(with(on, conventions.SamplingRateAnnotation, "0.5", conventions.PropagatorsAnnotation, "jaeger"),
			map[string]string{conventions.SamplingRateAnnotation: "1"}),
		wantEnv: injectedEnv("1", "jaeger", collector),
		wantPod: true,
	}, {
		name:    "namespace label",
		svc:     service(nil, nil),
		opts:    []revisions.Option{revisions.WithNamespaceLabels(map[string]string{conventions.NamespaceLabel: conventions.NamespaceEnabled})},
		wantEnv: injectedEnv("0.1", "tracecontext,baggage", collector),
		wantPod: true,
	}, {
		name:     "opt out of the namespace label",
		svc:      service(map[string]string{conventions.InjectAnnotation: "false"}, nil),
		opts:     []revisions.Option{revisions.WithNamespaceLabels(map[string]string{conventions.NamespaceLabel: conventions.NamespaceEnabled})},
		wantEnv:  map[string]string{},
		unchange: true,
	}, {
		name:    "kntrace's queue-proxy: export to the in-pod relay",
		svc:     service(on, nil),
		opts:    []revisions.Option{revisions.WithConfig(relayCfg)},
		wantEnv: injectedEnv("0.1", "tracecontext,baggage", conventions.RelayEndpoint),
		wantPod: true,
	}, {
		name: "a user's variables are never overwritten",
		svc: service(on, nil,
			corev1.EnvVar{Name: conventions.EnvServiceName, Value: "mine"},
			corev1.EnvVar{Name: "GREETING", Value: "hi"}),
		wantEnv: with(injectedEnv("0.1", "tracecontext,baggage", collector), conventions.EnvServiceName, "mine", "GREETING", "hi"),
		wantPod: true,
	}, {
		name:    "a user's podinfo annotation is kept",
		svc:     service(on, map[string]string{conventions.PodInfoAnnotation: "disabled"}),
		wantEnv: injectedEnv("0.1", "tracecontext,baggage", collector),
	}, {
		name:     "bad sampling rate",
		svc:      service(with(on, conventions.SamplingRateAnnotation, "1.5"), nil),
		wantErr:  []string{"metadata.annotations.kntrace.dev/sampling-rate", "[0, 1]"},
		wantEnv:  map[string]string{},
		unchange: true,
	}, {
		name:     "unknown propagator on the template",
		svc:      service(on, map[string]string{conventions.PropagatorsAnnotation: "tracecontext,w3c"}),
		wantErr:  []string{"spec.template.metadata.annotations.kntrace.dev/propagators", "b3multi"},
		wantEnv:  map[string]string{},
		unchange: true,
	}, {
		name:     "bad inject value",
		svc:      service(map[string]string{conventions.InjectAnnotation: "yes"}, nil),
		wantErr:  []string{"metadata.annotations.kntrace.dev/inject"},
		wantEnv:  map[string]string{},
		unchange: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.svc.DeepCopy()
			res, err := revisions.Patch(revisions.ServiceTarget(tt.svc), append([]revisions.Option{revisions.WithVersion("v1.2.3")}, tt.opts...)...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("Patch() succeeded, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			} else if err != nil {
				t.Fatalf("Patch(): %v", err)
			}
			if diff := cmp.Diff(tt.wantEnv, envOf(tt.svc, 0)); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if got := tt.svc.Spec.Template.Annotations[conventions.PodInfoAnnotation] == "enabled"; got != tt.wantPod {
				t.Errorf("podinfo annotation enabled = %v, want %v", got, tt.wantPod)
			}
			if tt.unchange {
				if res.Changed {
					t.Error("Changed = true, want false")
				}
				if diff := cmp.Diff(orig, tt.svc); diff != "" {
					t.Errorf("template changed (-want +got):\n%s", diff)
				}
				return
			}
			if !res.Changed {
				t.Error("Changed = false, want true")
			}
			// Idempotent: a second patch changes nothing.
			once := tt.svc.DeepCopy()
			res, err = revisions.Patch(revisions.ServiceTarget(tt.svc), append([]revisions.Option{revisions.WithVersion("v1.2.3")}, tt.opts...)...)
			if err != nil || res.Changed {
				t.Errorf("second Patch() = changed %v, %v; want unchanged", res.Changed, err)
			}
			if diff := cmp.Diff(once, tt.svc); diff != "" {
				t.Errorf("second Patch() changed the template (-once +twice):\n%s", diff)
			}
			// Remove restores the original template exactly.
			if !revisions.Remove(&tt.svc.Spec.Template) {
				t.Error("Remove() = false, want true")
			}
			if diff := cmp.Diff(orig.Spec.Template, tt.svc.Spec.Template); diff != "" {
				t.Errorf("Remove() did not restore the template (-orig +got):\n%s", diff)
			}
		})
	}
}

func TestPatchUpdatesOnlyItsOwnValues(t *testing.T) {
	svc := service(map[string]string{conventions.InjectAnnotation: "true"}, nil, corev1.EnvVar{Name: conventions.EnvPropagators, Value: "b3"})
	orig := svc.DeepCopy()
	if _, err := revisions.Patch(revisions.ServiceTarget(svc)); err != nil {
		t.Fatal(err)
	}
	// The user changes the sampling rate: kntrace's variable follows, the
	// user's OTEL_PROPAGATORS stays.
	svc.Spec.Template.Annotations[conventions.SamplingRateAnnotation] = "0.75"
	res, err := revisions.Patch(revisions.ServiceTarget(svc))
	if err != nil || !res.Changed {
		t.Fatalf("Patch() after a new rate = %v, %v; want changed", res.Changed, err)
	}
	env := envOf(svc, 0)
	if env[conventions.EnvSamplerArg] != "0.75" || env[conventions.EnvPropagators] != "b3" {
		t.Errorf("env = %v, want sampler arg 0.75 and the user's propagators b3", env)
	}
	// Turning it off removes kntrace's variables, never the user's.
	svc.Spec.Template.Annotations[conventions.InjectAnnotation] = "false"
	if res, err := revisions.Patch(revisions.ServiceTarget(svc)); err != nil || !res.Changed {
		t.Fatalf("Patch() with inject false = %v, %v; want changed", res.Changed, err)
	}
	if diff := cmp.Diff(orig.Spec.Template.Spec, svc.Spec.Template.Spec); diff != "" {
		t.Errorf("spec after opting out (-orig +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{conventions.SamplingRateAnnotation: "0.75", conventions.InjectAnnotation: "false"}, svc.Spec.Template.Annotations); diff != "" {
		t.Errorf("annotations after opting out (-want +got):\n%s", diff)
	}
}

func TestPatchEveryContainer(t *testing.T) {
	svc := service(map[string]string{conventions.InjectAnnotation: "true"}, nil)
	svc.Spec.Template.Spec.Containers = append(svc.Spec.Template.Spec.Containers, corev1.Container{
		Name: "sidecar", Image: "example.com/sidecar", Env: []corev1.EnvVar{{Name: conventions.EnvServiceName, Value: "sidecar"}},
	})
	orig := svc.DeepCopy()
	if _, err := revisions.Patch(revisions.ServiceTarget(svc)); err != nil {
		t.Fatal(err)
	}
	if got := envOf(svc, 1)[conventions.EnvServiceName]; got != "sidecar" {
		t.Errorf("sidecar %s = %q, want the user's %q", conventions.EnvServiceName, got, "sidecar")
	}
	if got := envOf(svc, 1)[conventions.EnvSampler]; got != conventions.Sampler {
		t.Errorf("sidecar %s = %q, want %q", conventions.EnvSampler, got, conventions.Sampler)
	}
	revisions.Remove(&svc.Spec.Template)
	if diff := cmp.Diff(orig.Spec.Template, svc.Spec.Template); diff != "" {
		t.Errorf("Remove() (-orig +got):\n%s", diff)
	}
}

func TestCorruptRecordTouchesNoUserVariable(t *testing.T) {
	svc := service(map[string]string{conventions.InjectAnnotation: "true"},
		map[string]string{conventions.InjectedAnnotation: "not json"},
		corev1.EnvVar{Name: conventions.EnvSamplerArg, Value: "0.3"})
	if _, err := revisions.Patch(revisions.ServiceTarget(svc)); err != nil {
		t.Fatal(err)
	}
	if got := envOf(svc, 0)[conventions.EnvSamplerArg]; got != "0.3" {
		t.Errorf("%s = %q: a variable not recorded as kntrace's was overwritten", conventions.EnvSamplerArg, got)
	}
	revisions.Remove(&svc.Spec.Template)
	if diff := cmp.Diff(map[string]string{conventions.EnvSamplerArg: "0.3"}, envOf(svc, 0)); diff != "" {
		t.Errorf("after Remove (-want +got):\n%s", diff)
	}
}

func TestConfigurationTarget(t *testing.T) {
	cfg := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{
		Name: "hello-config", Namespace: "demo",
		Labels:      map[string]string{serving.ServiceLabelKey: "hello"},
		Annotations: map[string]string{conventions.InjectAnnotation: "true"},
	}}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello"}}
	res, err := revisions.Patch(revisions.ConfigurationTarget(cfg))
	if err != nil || !res.Changed {
		t.Fatalf("Patch() = %v, %v", res.Changed, err)
	}
	if got := cfg.Spec.Template.Spec.Containers[0].Env[0]; got.Name != conventions.EnvServiceName || got.Value != "hello" {
		t.Errorf("first variable = %v, want %s=hello (the owning Service)", got, conventions.EnvServiceName)
	}
	bare := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "solo"}}
	if got := revisions.ConfigurationTarget(bare).ServiceName; got != "solo" {
		t.Errorf("ServiceName of an unowned Configuration = %q, want its name", got)
	}
}

func TestResolveNamespaceFallback(t *testing.T) {
	svc := service(map[string]string{conventions.InjectAnnotation: "true"}, nil)
	svc.Namespace = ""
	s, err := revisions.Resolve(revisions.ServiceTarget(svc), revisions.WithNamespace("from-request"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "from-request" || !s.Inject {
		t.Errorf("Resolve() = %+v, want namespace from-request and inject", s)
	}
}
