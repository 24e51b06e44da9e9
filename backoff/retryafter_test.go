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

package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"seconds with spaces", " 1 ", time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"beyond a day", "999999", maxRetryAfter},
		{"out of range", "99999999999999999999", 0},
		{"HTTP-date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"HTTP-date past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"malformed", "soon", 0},
		{"fraction", "1.5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set("Retry-After", tt.value)
			}
			if got := RetryAfter(h, now); got != tt.want {
				t.Errorf("RetryAfter(%q) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

// FuzzRetryAfter: any header value gives a wait between zero and a day.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	for _, s := range []string{"3", "-1", "Wed, 02 Dec 2026 17:01:00 GMT", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Retry-After": {v}}
		if d := RetryAfter(h, now); d < 0 || d > maxRetryAfter {
			t.Errorf("RetryAfter(%q) = %s, want 0 to %s", v, d, maxRetryAfter)
		}
	})
}
