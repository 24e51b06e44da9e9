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

package plane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestHostKey(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		want   string
		wantOK bool
	}{
		{name: "cluster local", host: "hello.default.svc.cluster.local", want: "hello.default", wantOK: true},
		{name: "with port", host: "hello.default.svc.cluster.local:80", want: "hello.default", wantOK: true},
		{name: "svc", host: "hello.default.svc", want: "hello.default", wantOK: true},
		{name: "short", host: "hello.default", want: "hello.default", wantOK: true},
		{name: "example domain", host: "hello.default.example.com", want: "hello.default", wantOK: true},
		{name: "upper case and dot", host: "Hello.Default.svc.cluster.local.", want: "hello.default", wantOK: true},
		{name: "no namespace", host: "hello", wantOK: false},
		{name: "too deep", host: "a.b.c.d", wantOK: false},
		{name: "empty label", host: ".default", wantOK: false},
		{name: "ip", host: "127.0.0.1:8080", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := hostKey(tt.host)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("hostKey(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzHostKey(f *testing.F) {
	for _, s := range []string{"hello.default.svc.cluster.local:80", "a.b", "", ":", "[::1]:80", "a..b", "x.y.svc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		key, ok := hostKey(host)
		if !ok {
			return
		}
		parts := strings.Split(key, ".")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			t.Fatalf("hostKey(%q) = %q: not <svc>.<ns>", host, key)
		}
		if key != strings.ToLower(key) {
			t.Fatalf("hostKey(%q) = %q: not lower case", host, key)
		}
	})
}

func TestSlotAddrs(t *testing.T) {
	tests := []struct {
		name           string
		slot           int
		wantHost, want string
	}{
		{name: "first", slot: 1, wantHost: "10.213.0.5", want: "10.213.0.6"},
		{name: "end of first /24", slot: 63, wantHost: "10.213.0.253", want: "10.213.0.254"},
		{name: "second /24", slot: 64, wantHost: "10.213.1.1", want: "10.213.1.2"},
		{name: "last", slot: maxSlots - 1, wantHost: "10.213.127.253", want: "10.213.127.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p := slotAddrs(tt.slot)
			if h.String() != tt.wantHost || p.String() != tt.want {
				t.Errorf("slotAddrs(%d) = %s, %s; want %s, %s", tt.slot, h, p, tt.wantHost, tt.want)
			}
			if ServiceIP == h || ServiceIP == p {
				t.Errorf("slot %d overlaps ServiceIP", tt.slot)
			}
		})
	}
}

func TestSlotsReuse(t *testing.T) {
	var s slots
	a, err := s.get()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.get()
	if a == b {
		t.Fatalf("two live slots are both %d", a)
	}
	s.put(a)
	seen := map[int]bool{}
	for range maxSlots - 2 {
		n, err := s.get()
		if err != nil {
			t.Fatalf("after %d gets: %v", len(seen), err)
		}
		if n == b || seen[n] {
			t.Fatalf("slot %d handed out twice", n)
		}
		seen[n] = true
	}
	if _, err := s.get(); err == nil {
		t.Fatal("get succeeded with every slot in use")
	}
}

func TestExpandRefs(t *testing.T) {
	vals := map[string]string{"A": "1", "POD": "p-1"}
	tests := []struct{ name, in, want string }{
		{name: "none", in: "plain", want: "plain"},
		{name: "one", in: "x-$(POD)", want: "x-p-1"},
		{name: "two", in: "$(A)/$(POD)", want: "1/p-1"},
		{name: "unknown kept", in: "$(NOPE)", want: "$(NOPE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expandRefs(tt.in, vals); got != tt.want {
				t.Errorf("expandRefs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolveTargetPort(t *testing.T) {
	ports := []corev1.ContainerPort{{Name: "http-autometric", ContainerPort: 9090}, {Name: "queue-port", ContainerPort: 8012}}
	tests := []struct {
		name   string
		tp     intstr.IntOrString
		want   int32
		wantOK bool
	}{
		{name: "number", tp: intstr.FromInt32(8012), want: 8012, wantOK: true},
		{name: "named", tp: intstr.FromString("http-autometric"), want: 9090, wantOK: true},
		{name: "unknown name", tp: intstr.FromString("nope"), wantOK: false},
		{name: "zero", tp: intstr.FromInt32(0), wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolveTargetPort(tt.tp, ports)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("resolveTargetPort(%v) = %d, %v; want %d, %v", tt.tp, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestHostsFileInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	h, err := newHostsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.set("10.213.255.254", serviceNames("hello", "default")...); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the hosts file was replaced, not rewritten in place: bind mounts would not see the change")
	}
	b, _ := os.ReadFile(path)
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "10.213.255.254 ") || strings.HasPrefix(line, "127.0.0.1 a") {
			got = append(got, line)
		}
	}
	want := []string{
		"10.213.255.254 hello.default hello.default.svc hello.default.svc.cluster.local",
		"127.0.0.1 autoscaler.knative-serving.svc autoscaler.knative-serving.svc.cluster.local kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
}

func TestPodEnv(t *testing.T) {
	m := podMeta{name: "hello-00001-deployment-abc", namespace: "default", podIP: "10.213.0.6", hostIP: "10.213.0.5"}
	c := corev1.Container{Env: []corev1.EnvVar{
		{Name: "SERVING_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "SERVING_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		{Name: "DIR", Value: "/var/log/$(SERVING_POD)"},
	}}
	got, err := m.env(t.Context(), nil, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{pathEnv, "HOSTNAME=hello-00001-deployment-abc", "SERVING_POD=hello-00001-deployment-abc",
		"SERVING_POD_IP=10.213.0.6", "HOST_IP=10.213.0.5", "DIR=/var/log/hello-00001-deployment-abc"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	c.EnvFrom = []corev1.EnvFromSource{{}}
	if _, err := m.env(t.Context(), nil, c); err == nil {
		t.Error("envFrom accepted; want a clear refusal")
	}
}

func TestKoImages(t *testing.T) {
	tests := []struct {
		name, image, resolved, importPath string
	}{
		{name: "ko", image: "ko://github.com/kntrace/kntrace/samples/helloworld", resolved: "ko.local/github.com/kntrace/kntrace/samples/helloworld", importPath: "github.com/kntrace/kntrace/samples/helloworld"},
		{name: "resolved with tag", image: "ko.local/github.com/x/y:latest", resolved: "ko.local/github.com/x/y:latest", importPath: "github.com/x/y"},
		{name: "resolved with digest", image: "ko.local/github.com/x/y@sha256:00", resolved: "ko.local/github.com/x/y@sha256:00", importPath: "github.com/x/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolveKo(tt.image); got != tt.resolved {
				t.Errorf("ResolveKo(%q) = %q, want %q", tt.image, got, tt.resolved)
			}
			if got := koImportPath(tt.image); got != tt.importPath {
				t.Errorf("koImportPath(%q) = %q, want %q", tt.image, got, tt.importPath)
			}
		})
	}
	obj := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"image": "ko://example.com/app", "env": []any{map[string]any{"name": "image", "value": "ko://not-an-image-field"}}},
		map[string]any{"image": "docker.io/library/nginx"},
	}}}}}
	resolveKoImages(obj)
	got := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
	want := []any{
		map[string]any{"image": "ko.local/example.com/app", "env": []any{map[string]any{"name": "image", "value": "ko://not-an-image-field"}}},
		map[string]any{"image": "docker.io/library/nginx"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resolveKoImages (-want +got):\n%s", diff)
	}
}

func TestIsUpstreamQueue(t *testing.T) {
	tests := []struct {
		name  string
		image string
		want  bool
	}{
		{name: "source tree default", image: "ko://knative.dev/serving/cmd/queue", want: true},
		{name: "release", image: "gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:0123", want: true},
		{name: "resolved ko", image: "ko.local/knative.dev/serving/cmd/queue", want: true},
		{name: "kntrace", image: "ko.local/github.com/kntrace/kntrace/cmd/queue", want: false},
		{name: "kntrace ko", image: "ko://github.com/kntrace/kntrace/cmd/queue", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isUpstreamQueue(tt.image); got != tt.want {
				t.Errorf("isUpstreamQueue(%q) = %v, want %v", tt.image, got, tt.want)
			}
		})
	}
}
