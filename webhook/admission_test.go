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

package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
)

func request(kind, op string, obj string) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       "uid",
		Kind:      metav1.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: kind},
		Operation: admissionv1.Operation(op),
		Namespace: "demo",
		Object:    runtime.RawExtension{Raw: []byte(obj)},
	}
}

// The objects are written by hand, as a user would, so that the patch is
// applied to JSON the Go types did not produce.
const (
	minimal       = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"spec":{"containers":[{"image":"example.com/hello"}]}}}}`
	withUserEnv   = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","namespace":"demo"},"spec":{"template":{"metadata":{"annotations":{"kntrace.dev/inject":"true","team":"a"}},"spec":{"containers":[{"image":"example.com/hello","env":[{"name":"OTEL_SERVICE_NAME","value":"mine"}],"unknownField":1}]}}}}`
	configuration = `{"apiVersion":"serving.knative.dev/v1","kind":"Configuration","metadata":{"name":"hello","annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"metadata":{},"spec":{"containers":[{"image":"a"},{"image":"b","env":[]}]}}}}`
	ownedConfig   = `{"apiVersion":"serving.knative.dev/v1","kind":"Configuration","metadata":{"name":"hello","labels":{"serving.knative.dev/service":"hello"},"annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}`
	badRate       = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","annotations":{"kntrace.dev/inject":"true","kntrace.dev/sampling-rate":"2"}},"spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}`
	badProp       = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello"},"spec":{"template":{"metadata":{"annotations":{"kntrace.dev/propagators":"w3c"}},"spec":{"containers":[{"image":"a"}]}}}}`
	notAsked      = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello"},"spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}`
)

func TestAdmit(t *testing.T) {
	a := NewAdmission(settings.DefaultConfig, func(string) map[string]string { return nil }, "v9")
	tests := []struct {
		name      string
		req       *admissionv1.AdmissionRequest
		wantPatch bool
		wantDeny  []string
	}{
		{name: "minimal Service", req: request("Service", "CREATE", minimal), wantPatch: true},
		{name: "user env and unknown fields kept", req: request("Service", "UPDATE", withUserEnv), wantPatch: true},
		{name: "Configuration, two containers", req: request("Configuration", "CREATE", configuration), wantPatch: true},
		{name: "not asked for", req: request("Service", "CREATE", notAsked)},
		{name: "a Service's Configuration follows the Service", req: request("Configuration", "UPDATE", ownedConfig)},
		{name: "bad sampling rate", req: request("Service", "CREATE", badRate), wantDeny: []string{"kntrace.dev/sampling-rate", "[0, 1]"}},
		{name: "unknown propagator", req: request("Service", "CREATE", badProp), wantDeny: []string{"kntrace.dev/propagators", "tracecontext, baggage, b3, b3multi, jaeger"}},
		{name: "delete", req: request("Service", "DELETE", minimal)},
		{name: "status subresource", req: func() *admissionv1.AdmissionRequest {
			r := request("Service", "UPDATE", minimal)
			r.SubResource = "status"
			return r
		}()},
		{name: "another kind", req: request("Route", "CREATE", minimal)},
		{name: "undecodable", req: request("Service", "CREATE", `{"spec":[]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := a.Admit(context.Background(), tt.req)
			if len(tt.wantDeny) > 0 {
				if resp.Allowed {
					t.Fatal("allowed, want denied")
				}
				for _, w := range tt.wantDeny {
					if !strings.Contains(resp.Result.Message, w) {
						t.Errorf("message %q does not mention %q", resp.Result.Message, w)
					}
				}
				return
			}
			if !resp.Allowed {
				t.Fatalf("denied: %v", resp.Result)
			}
			if !tt.wantPatch {
				if resp.Patch != nil {
					t.Fatalf("patch %s, want none", resp.Patch)
				}
				return
			}
			patch, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatalf("patch %s: %v", resp.Patch, err)
			}
			patched, err := patch.Apply(tt.req.Object.Raw)
			if err != nil {
				t.Fatalf("apply patch %s: %v", resp.Patch, err)
			}
			// The patched object equals revisions.Patch on the typed object...
			got, want := decodeTemplate(t, tt.req.Kind.Kind, patched), decodeTemplate(t, tt.req.Kind.Kind, tt.req.Object.Raw)
			var target revisions.Target
			switch tt.req.Kind.Kind {
			case "Service":
				target = revisions.ServiceTarget(want.(*servingv1.Service))
			default:
				target = revisions.ConfigurationTarget(want.(*servingv1.Configuration))
			}
			if _, err := revisions.Patch(target, revisions.WithNamespace("demo"), revisions.WithVersion("v9")); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("patched object (-revisions.Patch +webhook):\n%s", diff)
			}
			// ...keeps what the Go types do not know...
			if strings.Contains(string(tt.req.Object.Raw), "unknownField") && !strings.Contains(string(patched), "unknownField") {
				t.Error("the patch dropped a field the Go types do not know")
			}
			// ...and admitting the result again changes nothing.
			again := *tt.req
			again.Object.Raw = patched
			if resp := a.Admit(context.Background(), &again); !resp.Allowed || resp.Patch != nil {
				t.Errorf("second admission: allowed %v, patch %s; want allowed without a patch", resp.Allowed, resp.Patch)
			}
		})
	}
}

func decodeTemplate(t *testing.T, kind string, raw []byte) any {
	t.Helper()
	var obj any = &servingv1.Service{}
	if kind == "Configuration" {
		obj = &servingv1.Configuration{}
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestAdmitUsesNamespaceLabelAndConfig(t *testing.T) {
	cfg := settings.DefaultConfig()
	cfg.KntraceQueueProxy = true
	a := NewAdmission(func() *settings.Config { return cfg }, func(ns string) map[string]string {
		if ns == "demo" {
			return map[string]string{conventions.NamespaceLabel: conventions.NamespaceEnabled}
		}
		return nil
	}, "v9")
	resp := a.Admit(context.Background(), request("Service", "CREATE", notAsked))
	if !resp.Allowed || resp.Patch == nil {
		t.Fatalf("allowed %v, patch %s: want a patch from the namespace label", resp.Allowed, resp.Patch)
	}
	if !strings.Contains(string(resp.Patch), conventions.RelayEndpoint) {
		t.Errorf("patch %s does not point at the relay %s (kntrace-queue-proxy: true)", resp.Patch, conventions.RelayEndpoint)
	}
}

func TestAdmitUpdates(t *testing.T) {
	a := NewAdmission(settings.DefaultConfig, func(string) map[string]string { return nil }, "v9")
	injected := func(raw string) []byte {
		resp := a.Admit(context.Background(), request("Service", "CREATE", raw))
		patch, err := jsonpatch.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatal(err)
		}
		out, err := patch.Apply([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("opting out removes exactly what kntrace added", func(t *testing.T) {
		on := injected(withUserEnv)
		off := strings.Replace(string(on), `"kntrace.dev/inject":"true"`, `"kntrace.dev/inject":"false"`, 1)
		req := request("Service", "UPDATE", off)
		req.OldObject.Raw = on
		resp := a.Admit(context.Background(), req)
		patch, err := jsonpatch.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatalf("patch %s: %v", resp.Patch, err)
		}
		got, err := patch.Apply([]byte(off))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(withUserEnv, `"kntrace.dev/inject":"true"`, `"kntrace.dev/inject":"false"`, 1)
		if !jsonpatch.Equal(got, []byte(want)) {
			t.Errorf("after opting out:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("a kept user-chosen revision name is never patched", func(t *testing.T) {
		byo := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"metadata":{"name":"hello-v1"},"spec":{"containers":[{"image":"a"}]}}}}`
		req := request("Service", "UPDATE", byo)
		req.OldObject.Raw = []byte(byo)
		if resp := a.Admit(context.Background(), req); !resp.Allowed || resp.Patch != nil {
			t.Errorf("allowed %v, patch %s; want allowed unchanged (Knative refuses a template change without a new name)", resp.Allowed, resp.Patch)
		}
		renamed := strings.Replace(byo, "hello-v1", "hello-v2", 1)
		req = request("Service", "UPDATE", renamed)
		req.OldObject.Raw = []byte(byo)
		if resp := a.Admit(context.Background(), req); resp.Patch == nil {
			t.Error("a renamed template was not patched")
		}
	})
}

// FuzzAdmit: whatever object arrives, Admit does not panic; a patch it
// returns applies to the object, and admitting the result changes nothing.
func FuzzAdmit(f *testing.F) {
	for _, s := range []string{minimal, withUserEnv, configuration, badRate, notAsked, `{}`, `{"spec":{"template":{}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"OTEL_PROPAGATORS"}]}]}}},"metadata":{"annotations":{"kntrace.dev/inject":"true"}}}`,
		`{"metadata":{"annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"metadata":{"annotations":{"kntrace.dev/injected":"{\"env\":[[\"X\"]]}"}},"spec":{"containers":[{"env":[{"name":"X","value":"1"}]}]}}}}`} {
		f.Add(s, true)
		f.Add(s, false)
	}
	a := NewAdmission(settings.DefaultConfig, func(string) map[string]string { return nil }, "v9")
	f.Fuzz(func(t *testing.T, raw string, service bool) {
		kind := "Configuration"
		if service {
			kind = "Service"
		}
		resp := a.Admit(context.Background(), request(kind, "CREATE", raw))
		if !resp.Allowed || resp.Patch == nil {
			return
		}
		patch, err := jsonpatch.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatalf("patch %s: %v", resp.Patch, err)
		}
		out, err := patch.Apply([]byte(raw))
		if err != nil {
			t.Fatalf("patch %s does not apply to %s: %v", resp.Patch, raw, err)
		}
		if again := a.Admit(context.Background(), request(kind, "CREATE", string(out))); !again.Allowed || again.Patch != nil {
			t.Fatalf("second admission of %s: allowed %v, patch %s", out, again.Allowed, again.Patch)
		}
	})
}
