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

package backends

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func TestParseSamples(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Samples
		wantErr string
	}{{
		name: "labels, comments and a timestamp",
		in: "# HELP otelcol_exporter_sent_spans x\n# TYPE otelcol_exporter_sent_spans counter\n" +
			`otelcol_exporter_sent_spans_total{exporter="otlp_grpc/jaeger",service_name="otelcol"} 42` + "\n\n" +
			"otelcol_process_uptime 1.5e+01 1700000000000\n",
		want: Samples{
			{Name: "otelcol_exporter_sent_spans_total", Labels: map[string]string{"exporter": "otlp_grpc/jaeger", "service_name": "otelcol"}, Value: 42},
			{Name: "otelcol_process_uptime", Labels: map[string]string{}, Value: 15},
		},
	}, {
		name: "escaped quotes and commas in a value",
		in:   `m{a="x\"y,z",b="2"} 1` + "\n",
		want: Samples{{Name: "m", Labels: map[string]string{"a": `x"y,z`, "b": "2"}, Value: 1}},
	}, {
		name:    "no value",
		in:      "m{a=\"1\"}\n",
		wantErr: "want name and value",
	}, {
		name:    "unterminated labels",
		in:      "m{a=\"1\" 3\n",
		wantErr: "unterminated",
	}, {
		name:    "value not a number",
		in:      "m 3x\n",
		wantErr: "value",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSamples(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSamples() = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSamples() (-want +got):\n%s", diff)
			}
		})
	}
	s := Samples{
		{Name: "a", Labels: map[string]string{"x": "1", "y": "2"}, Value: 1},
		{Name: "a", Labels: map[string]string{"x": "1", "y": "3"}, Value: 2},
		{Name: "a", Labels: map[string]string{"x": "2"}, Value: 4},
		{Name: "b", Value: 8},
	}
	for _, tc := range []struct {
		name  string
		match []string
		want  float64
	}{{"a", nil, 7}, {"a", []string{"x", "1"}, 3}, {"a", []string{"x", "1", "y", "3"}, 2}, {"b", []string{"x", "1"}, 0}, {"c", nil, 0}} {
		if got := s.Sum(tc.name, tc.match...); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.match, got, tc.want)
		}
	}
}

// FuzzParseSamples: whatever a metrics endpoint answers, the parser
// returns samples with names or an error, and never panics.
func FuzzParseSamples(f *testing.F) {
	for _, s := range []string{"m 1\n", `m{a="1",b="x\"y"} 2 3` + "\n", "# c\n\nm{", `m{a="\` + "\n", "m{a=1} 2\n", "{} 1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseSamples(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range got {
			if s.Name == "" {
				t.Fatalf("sample without a name from %q", in)
			}
		}
	})
}

// TestShippedConfigsAndEdits: the harness reads the shipped scale-out
// configurations and moves every listener to loopback and every directory
// under the test's own, leaving the policies as shipped.
func TestShippedConfigsAndEdits(t *testing.T) {
	root := filepath.Join("..", "..")
	agent, err := ShippedConfig(filepath.Join(root, AgentManifest), AgentConfigMap, CollectorKey)
	if err != nil {
		t.Fatal(err)
	}
	gateway, err := ShippedConfig(filepath.Join(root, GatewayManifest), GatewayConfigMap, CollectorKey)
	if err != nil {
		t.Fatal(err)
	}
	jaeger, err := ShippedConfig(filepath.Join(root, JaegerPatch), JaegerConfigMap, JaegerKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ShippedConfig(filepath.Join(root, AgentManifest), "no-such-configmap", CollectorKey); err == nil {
		t.Error("ShippedConfig of a missing ConfigMap succeeded")
	}

	dir := t.TempDir()
	g, err := NewGateway("gw", gateway, "127.0.0.1:14317", WithBinary("/bin/true"), WithLogDir(dir),
		WithEdits(Set("processors.tail_sampling.decision_wait", "1s")))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent("agent", agent, []string{g.GRPC}, WithBinary("/bin/true"), WithLogDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAgent("agent", agent, nil, WithBinary("/bin/true"), WithLogDir(dir)); err == nil {
		t.Error("an agent without gateways was accepted")
	}
	j, err := NewJaeger(WithBinary("/bin/true"), WithLogDir(dir), WithJaegerConfig(jaeger))
	if err != nil {
		t.Fatal(err)
	}
	singleCfg, err := ShippedConfig(filepath.Join(root, "config", "600-otel-collector.yaml"), "otel-collector-config", CollectorKey)
	if err != nil {
		t.Fatal(err)
	}
	single, err := NewShippedCollector("single", singleCfg, j.OTLPGRPC, WithBinary("/bin/true"), WithLogDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if single.HTTP == "" || single.Health == "" || single.StorageDir != "" || g.HTTP != "" {
		t.Errorf("single collector HTTP %q health %q storage %q, gateway HTTP %q: want what each configuration has", single.HTTP, single.Health, single.StorageDir, g.HTTP)
	}
	read := func(path string) map[string]any {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	get := func(m map[string]any, path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		}
		return v
	}
	for _, tc := range []struct {
		file, path string
		want       any
	}{
		{g.ConfigPath, "receivers.otlp.protocols.grpc.endpoint", g.GRPC},
		{g.ConfigPath, "exporters.otlp_grpc/jaeger.endpoint", "127.0.0.1:14317"},
		{g.ConfigPath, "extensions.file_storage.directory", g.StorageDir},
		{g.ConfigPath, "processors.tail_sampling.decision_wait", "1s"},
		{g.ConfigPath, "processors.tail_sampling.policies", get(mustYAML(t, gateway), "processors.tail_sampling.policies")},
		{a.ConfigPath, "exporters.load_balancing.resolver", map[string]any{"static": map[string]any{"hostnames": []any{g.GRPC}}}},
		{a.ConfigPath, "exporters.load_balancing.routing_key", "traceID"},
		{a.ConfigPath, "receivers.otlp.protocols.http.endpoint", a.HTTP},
		{single.ConfigPath, "exporters.otlp/jaeger.endpoint", j.OTLPGRPC},
		{single.ConfigPath, "receivers.otlp.protocols.http.endpoint", single.HTTP},
		{single.ConfigPath, "service.telemetry.metrics.level", "normal"},
		{j.ConfigPath, "receivers.otlp.protocols.grpc.endpoint", j.OTLPGRPC},
		{j.ConfigPath, "extensions.jaeger_query.grpc.endpoint", j.QueryGRPC},
		{j.ConfigPath, "extensions.jaeger_storage.backends.badger_store.badger.directories.keys", filepath.Join(j.StorageDir, "badger_store", "keys")},
	} {
		if diff := cmp.Diff(tc.want, get(read(tc.file), tc.path)); diff != "" {
			t.Errorf("%s: %s (-want +got):\n%s", filepath.Base(tc.file), tc.path, diff)
		}
	}
	// Nothing listens beyond loopback.
	for _, f := range []string{g.ConfigPath, a.ConfigPath, j.ConfigPath, single.ConfigPath} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "0.0.0.0") {
			t.Errorf("%s still listens on 0.0.0.0:\n%s", filepath.Base(f), b)
		}
	}
}

func mustYAML(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEdit(t *testing.T) {
	root := map[string]any{"a": map[string]any{"b": 1, "c": 2}, "s": "x"}
	root["l"] = []any{map[string]any{"name": "p0"}, "v1"}
	for _, e := range []Edit{Set("a.b", 3), Delete("a.c"), Set("n.m.o", true), Delete("z.y"), Set("l.0.name", "q0"), Set("l.1", "w1")} {
		if err := e.apply(root); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]any{"a": map[string]any{"b": 3}, "s": "x", "n": map[string]any{"m": map[string]any{"o": true}},
		"l": []any{map[string]any{"name": "q0"}, "w1"}}
	if diff := cmp.Diff(want, root); diff != "" {
		t.Errorf("after the edits (-want +got):\n%s", diff)
	}
	if err := Set("s.t", 1).apply(root); err == nil || !strings.Contains(err.Error(), "s is not a map") {
		t.Errorf("setting under a string: %v, want an error naming it", err)
	}
	if err := Set("l.2", 1).apply(root); err == nil || !strings.Contains(err.Error(), `l.2: no element "2"`) {
		t.Errorf("setting past a list's end: %v, want an error naming it", err)
	}
}
