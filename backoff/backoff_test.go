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
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	bo := Policy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	tests := []struct {
		name    string
		attempt int
		r       float64
		want    time.Duration
	}{
		{name: "first, no jitter", attempt: 1, r: 0.5, want: 100 * time.Millisecond},
		{name: "first, lowest", attempt: 1, r: 0, want: 50 * time.Millisecond},
		{name: "third", attempt: 3, r: 0.5, want: 400 * time.Millisecond},
		{name: "capped", attempt: 10, r: 0.5, want: time.Second},
		{name: "capped, highest", attempt: 50, r: 1, want: 1500 * time.Millisecond},
		{name: "attempt 0 is the first", attempt: 0, r: 0.5, want: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bo.Delay(tt.attempt, tt.r); got != tt.want {
				t.Errorf("Delay(%d, %v) = %s, want %s", tt.attempt, tt.r, got, tt.want)
			}
		})
	}
}

func TestValid(t *testing.T) {
	got := Policy{Max: time.Millisecond, Multiplier: 0.5, Jitter: 3}.Valid()
	want := Policy{Initial: Default.Initial, Max: Default.Initial, Multiplier: 1, Jitter: Default.Jitter}
	if got != want {
		t.Errorf("Valid() = %+v, want %+v", got, want)
	}
}
