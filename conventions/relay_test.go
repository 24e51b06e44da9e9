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

package conventions

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr string
	}{
		{name: "binary suffix", in: "16Mi", want: 16 << 20},
		{name: "plain bytes", in: "16777216", want: 16 << 20},
		{name: "kibibytes at the floor", in: "64Ki", want: 64 << 10},
		{name: "gibibyte at the ceiling", in: "1Gi", want: 1 << 30},
		{name: "decimal suffix", in: "100M", want: 100e6},
		{name: "lower-case k as Kubernetes spells it", in: "500k", want: 500e3},
		{name: "blanks around", in: " 4Mi ", want: 4 << 20},
		{name: "below the floor", in: "1Ki", wantErr: "from 64Ki to 1Gi"},
		{name: "above the ceiling", in: "2Gi", wantErr: "from 64Ki to 1Gi"},
		{name: "overflowing", in: "9223372036854775807Gi", wantErr: "from 64Ki to 1Gi"},
		{name: "zero", in: "0", wantErr: "from 64Ki to 1Gi"},
		{name: "negative", in: "-16Mi", wantErr: "want a size in bytes"},
		{name: "explicit plus", in: "+16Mi", wantErr: "want a size in bytes"},
		{name: "unknown suffix", in: "16MB", wantErr: "want a size in bytes"},
		{name: "fraction", in: "1.5Mi", wantErr: "want a size in bytes"},
		{name: "suffix alone", in: "Mi", wantErr: "want a size in bytes"},
		{name: "empty", in: "", wantErr: "want a size in bytes"},
		{name: "too long", in: strings.Repeat("1", 64), wantErr: "want a size in bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseByteSize(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseByteSize(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseDrainTimeout(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "seconds", in: "10s", want: 10 * time.Second},
		{name: "compound", in: "1m30s", want: 90 * time.Second},
		{name: "floor", in: "100ms", want: 100 * time.Millisecond},
		{name: "ceiling", in: "5m", want: 5 * time.Minute},
		{name: "too short", in: "10ms", wantErr: "from 100ms to 5m"},
		{name: "too long", in: "1h", wantErr: "from 100ms to 5m"},
		{name: "no unit", in: "10", wantErr: "want a duration"},
		{name: "empty", in: "", wantErr: "want a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDrainTimeout(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseDrainTimeout(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDrainTimeout(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestFormatByteSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{16 << 20, "16Mi"}, {1 << 30, "1Gi"}, {64 << 10, "64Ki"}, {100e6, "100000000"}, {1536 << 10, "1536Ki"}, {0, "0"},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, FormatByteSize(tc.in)); diff != "" {
			t.Errorf("FormatByteSize(%d) (-want +got):\n%s", tc.in, diff)
		}
	}
}
