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
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
)

// relayAnnotations is the template's kntrace.dev/relay-* annotations.
func relayAnnotations(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if strings.HasPrefix(k, "kntrace.dev/relay-") {
			out[k] = v
		}
	}
	return out
}

func TestPatchRelayLimits(t *testing.T) {
	on := map[string]string{conventions.InjectAnnotation: "true"}
	cluster := settings.DefaultConfig()
	cluster.Relay = settings.RelayLimits{MaxBytes: 64 << 20, MaxRequestBytes: conventions.DefaultRelayMaxRequestBytes, DrainTimeout: 30 * time.Second}
	tests := []struct {
		name      string
		meta      map[string]string
		tmpl      map[string]string
		cfg       *settings.Config
		want      map[string]string // relay annotations on the template after Patch
		wantRelay settings.RelayLimits
		wantErr   []string
	}{{
		name:      "defaults everywhere: no annotation",
		meta:      on,
		want:      map[string]string{},
		wantRelay: settings.DefaultRelayLimits(),
	}, {
		name:      "config-kntrace's non-default limits are written, its defaults are not",
		meta:      on,
		cfg:       cluster,
		want:      map[string]string{conventions.RelayMaxBytesAnnotation: "64Mi", conventions.RelayDrainTimeoutAnnotation: "30s"},
		wantRelay: cluster.Relay,
	}, {
		name: "the object's metadata wins over config-kntrace, copied in canonical form",
		meta: with(on, conventions.RelayMaxBytesAnnotation, " 33554432 ", conventions.RelayDrainTimeoutAnnotation, "1m30s"),
		cfg:  cluster,
		want: map[string]string{conventions.RelayMaxBytesAnnotation: "32Mi", conventions.RelayDrainTimeoutAnnotation: "1m30s"},
		wantRelay: settings.RelayLimits{MaxBytes: 32 << 20, MaxRequestBytes: conventions.DefaultRelayMaxRequestBytes,
			DrainTimeout: 90 * time.Second},
	}, {
		name:      "a user's template annotation wins and is left as it is",
		meta:      with(on, conventions.RelayMaxBytesAnnotation, "32Mi"),
		tmpl:      map[string]string{conventions.RelayMaxBytesAnnotation: "8Mi"},
		cfg:       cluster,
		want:      map[string]string{conventions.RelayMaxBytesAnnotation: "8Mi", conventions.RelayDrainTimeoutAnnotation: "30s"},
		wantRelay: settings.RelayLimits{MaxBytes: 8 << 20, MaxRequestBytes: conventions.DefaultRelayMaxRequestBytes, DrainTimeout: 30 * time.Second},
	}, {
		name:    "a size the relay cannot take names the annotation and the range",
		meta:    with(on, conventions.RelayMaxBytesAnnotation, "2Gi"),
		wantErr: []string{"metadata.annotations." + conventions.RelayMaxBytesAnnotation, "64Ki to 1Gi"},
	}, {
		name:    "a drain timeout without a unit",
		tmpl:    with(on, conventions.RelayDrainTimeoutAnnotation, "10"),
		wantErr: []string{"spec.template.metadata.annotations." + conventions.RelayDrainTimeoutAnnotation, "100ms to 5m"},
	}, {
		name:    "a request larger than the queue, both set by the user",
		meta:    with(on, conventions.RelayMaxBytesAnnotation, "1Mi", conventions.RelayMaxRequestBytesAnnotation, "2Mi"),
		wantErr: []string{conventions.RelayMaxRequestBytesAnnotation, "at most " + conventions.RelayMaxBytesAnnotation},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service(tc.meta, tc.tmpl)
			orig := svc.DeepCopy()
			opts := []revisions.Option{}
			if tc.cfg != nil {
				opts = append(opts, revisions.WithConfig(tc.cfg))
			}
			res, err := revisions.Patch(revisions.ServiceTarget(svc), opts...)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("Patch() succeeded, want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if diff := cmp.Diff(orig, svc); diff != "" {
					t.Errorf("an invalid annotation changed the Service (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, relayAnnotations(svc.Spec.Template.Annotations)); diff != "" {
				t.Errorf("relay annotations on the template (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRelay, res.Settings.Relay); diff != "" {
				t.Errorf("Settings.Relay (-want +got):\n%s", diff)
			}
			// Idempotent, and Remove takes away exactly what Patch added.
			once := svc.DeepCopy()
			if res, err := revisions.Patch(revisions.ServiceTarget(svc), opts...); err != nil || res.Changed {
				t.Errorf("second Patch() = changed %v, %v; want unchanged", res.Changed, err)
			}
			if diff := cmp.Diff(once, svc); diff != "" {
				t.Errorf("second Patch() changed the template (-once +twice):\n%s", diff)
			}
			revisions.Remove(&svc.Spec.Template)
			if diff := cmp.Diff(orig.Spec.Template, svc.Spec.Template); diff != "" {
				t.Errorf("Remove() did not restore the template (-orig +got):\n%s", diff)
			}
		})
	}
}

// TestPatchFollowsConfigKntrace: a limit kntrace wrote from config-kntrace
// follows config-kntrace's changes and goes when it is back to the default;
// it is never taken for a user's annotation.
func TestPatchFollowsConfigKntrace(t *testing.T) {
	svc := service(map[string]string{conventions.InjectAnnotation: "true"}, nil)
	cfg := settings.DefaultConfig()
	cfg.Relay.MaxBytes = 64 << 20
	if _, err := revisions.Patch(revisions.ServiceTarget(svc), revisions.WithConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	cfg.Relay.MaxBytes = 128 << 20
	res, err := revisions.Patch(revisions.ServiceTarget(svc), revisions.WithConfig(cfg))
	if err != nil || !res.Changed {
		t.Fatalf("Patch() after config-kntrace changed = %v, %v; want changed", res.Changed, err)
	}
	if diff := cmp.Diff(map[string]string{conventions.RelayMaxBytesAnnotation: "128Mi"}, relayAnnotations(svc.Spec.Template.Annotations)); diff != "" {
		t.Errorf("after 128Mi (-want +got):\n%s", diff)
	}
	res, err = revisions.Patch(revisions.ServiceTarget(svc), revisions.WithConfig(settings.DefaultConfig()))
	if err != nil || !res.Changed {
		t.Fatalf("Patch() after config-kntrace went back to the default = %v, %v; want changed", res.Changed, err)
	}
	if diff := cmp.Diff(map[string]string{}, relayAnnotations(svc.Spec.Template.Annotations)); diff != "" {
		t.Errorf("after the default (-want +got):\n%s", diff)
	}
	if got := res.Settings.Relay; got != settings.DefaultRelayLimits() {
		t.Errorf("Settings.Relay = %+v, want the defaults", got)
	}
}

func TestPatchTailModeSamplesEveryTrace(t *testing.T) {
	cfg := settings.DefaultConfig()
	cfg.SamplingMode = settings.SamplingModeTail
	svc := service(map[string]string{conventions.InjectAnnotation: "true"}, nil)
	if _, err := revisions.Patch(revisions.ServiceTarget(svc), revisions.WithConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	if got := envOf(svc, 0)[conventions.EnvSamplerArg]; got != "1" {
		t.Errorf("%s = %q in tail mode, want 1 (the gateways decide)", conventions.EnvSamplerArg, got)
	}
	// A revision's own rate is still its own.
	svc = service(map[string]string{conventions.InjectAnnotation: "true", conventions.SamplingRateAnnotation: "0.5"}, nil)
	if _, err := revisions.Patch(revisions.ServiceTarget(svc), revisions.WithConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	if got := envOf(svc, 0)[conventions.EnvSamplerArg]; got != "0.5" {
		t.Errorf("%s = %q with %s 0.5, want 0.5", conventions.EnvSamplerArg, got, conventions.SamplingRateAnnotation)
	}
}

func TestParseRelayBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"16Mi", 16 << 20}, {"65536", 64 << 10}, {" 1Gi ", 1 << 30}} {
		got, err := revisions.ParseRelayBytes(conventions.RelayMaxBytesAnnotation, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRelayBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "16MB", "-1Mi", "1", "2Gi"} {
		_, err := revisions.ParseRelayBytes(conventions.RelayMaxRequestBytesAnnotation, in)
		if err == nil || !strings.Contains(err.Error(), conventions.RelayMaxRequestBytesAnnotation) || !strings.Contains(err.Error(), "64Ki to 1Gi") {
			t.Errorf("ParseRelayBytes(%q) error = %v, want one naming the annotation and the range", in, err)
		}
	}
}
