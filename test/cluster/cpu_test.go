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
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCPUSince(t *testing.T) {
	earlier := CPU{
		"a": {Name: "queue-proxy", Used: 100 * time.Millisecond},
		"b": {Name: "activator", Used: time.Second},
		"c": {Name: "gone", Used: time.Second},
	}
	now := CPU{
		"a": {Name: "queue-proxy", Used: 350 * time.Millisecond},
		"b": {Name: "activator", Used: 1500 * time.Millisecond},
		"d": {Name: "queue-proxy", Used: 50 * time.Millisecond}, // started since: counts from its start
	}
	want := map[string]time.Duration{"queue-proxy": 300 * time.Millisecond, "activator": 500 * time.Millisecond}
	if diff := cmp.Diff(want, now.Since(earlier)); diff != "" {
		t.Errorf("Since (-want +got):\n%s", diff)
	}
}

func TestCPUAcctRead(t *testing.T) {
	tests := []struct {
		name    string
		v2      bool
		file    string
		content string
		want    time.Duration
		wantErr bool
	}{
		{name: "v1 nanoseconds", file: "cpuacct.usage", content: "1234567890\n", want: 1234567890},
		{name: "v2 microseconds", v2: true, file: "cpu.stat", content: "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n", want: 2500 * time.Microsecond},
		{name: "v2 without usage", v2: true, file: "cpu.stat", content: "user_usec 2000\n", wantErr: true},
		{name: "v1 not a number", file: "cpuacct.usage", content: "many\n", wantErr: true},
		{name: "no file", file: "other", content: "1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := cpuAcct{root: "/", v2: tt.v2}.read(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("read: %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("read = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestQoSDir(t *testing.T) {
	got := []string{qosDir("Guaranteed"), qosDir("Burstable"), qosDir("BestEffort"), qosDir("")}
	if diff := cmp.Diff([]string{"", "burstable", "besteffort", ""}, got); diff != "" {
		t.Errorf("qosDir (-want +got):\n%s", diff)
	}
}
