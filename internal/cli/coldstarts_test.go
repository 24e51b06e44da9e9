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
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/jaeger/jaegertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

// The output of kn trace coldstarts for the hour of jaegertest.Window, in
// each format.
func TestColdStartsGolden(t *testing.T) {
	traces, err := jaeger.BuildAll(jaegertest.Traces(jaegertest.Window()))
	if err != nil {
		t.Fatal(err)
	}
	from, to := jaegertest.Start, jaegertest.Start.Add(time.Hour)
	hello := jaeger.ColdStartFilter{Service: "hello", Namespace: "demo", From: from, To: to}
	tests := []struct {
		name   string
		file   string
		format outputFormat
		filter jaeger.ColdStartFilter
		limit  int
	}{
		{"text", "coldstarts-hello.golden", "", hello, 20},
		{"json", "coldstarts-hello-json.golden", "json", hello, 20},
		{"yaml", "coldstarts-hello-yaml.golden", "yaml", hello, 20},
		{"every Service, the newest two", "coldstarts-all-limit-2.golden", "", jaeger.ColdStartFilter{From: from, To: to}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeColdStarts(&b, tc.format, jaeger.NewColdStartReport(traces, tc.filter, tc.limit), time.UTC); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestWindowFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr bool
	}{
		{in: "30m", want: 30 * time.Minute, str: "30m"},
		{in: "1h", want: time.Hour, str: "1h"},
		{in: "2h30m", want: 150 * time.Minute, str: "2h30m"},
		{in: "90s", want: 90 * time.Second, str: "1m30s"},
		{in: "1d", want: 24 * time.Hour, str: "1d"},
		{in: "1d12h", want: 36 * time.Hour, str: "36h"},
		{in: "7d", want: 7 * 24 * time.Hour, str: "7d"},
		{in: "0", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "1x", wantErr: true},
		{in: "d", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var w windowFlag
			err := w.Set(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("Set(%q) = %v, want an error", tc.in, time.Duration(w))
				}
				return
			}
			if err != nil || time.Duration(w) != tc.want || w.String() != tc.str {
				t.Errorf("Set(%q) = %v (%q), %v; want %v (%q)", tc.in, time.Duration(w), w.String(), err, tc.want, tc.str)
			}
		})
	}
}
