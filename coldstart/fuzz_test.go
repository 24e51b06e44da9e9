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

package coldstart

import (
	"testing"
)

// FuzzParseTimelineHeader checks the header parser never panics and that
// what it accepts round-trips.
func FuzzParseTimelineHeader(f *testing.F) {
	f.Add("start=1700000000123456789,ready=1700000001123456789")
	f.Add("start=1")
	f.Add("ready=1,start=2,x=y")
	f.Add(",,,")
	f.Add("start=5,pod=hello-00001-deployment-7d9c-x2x7q")
	f.Fuzz(func(t *testing.T, v string) {
		st, err := ParseHeader(v)
		if err != nil {
			return
		}
		tl := NewTimeline(WithProcessStart(st.Start), WithPod(st.Pod))
		if !st.Ready.IsZero() {
			tl.MarkReadyAt(st.Ready)
		}
		got, err := ParseHeader(tl.HeaderValue())
		if err != nil || !got.Start.Equal(st.Start) || !got.Ready.Equal(st.Ready) || got.Pod != st.Pod {
			t.Errorf("round trip of %q: %+v %v, want %+v", v, got, err, st)
		}
	})
}
