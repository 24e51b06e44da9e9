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

package activatorhooks_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
)

func TestEndpointsReadyBackends(t *testing.T) {
	private := func(name string, ready, notReady int) *corev1.Endpoints {
		eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name}}
		if ready+notReady > 0 {
			var s corev1.EndpointSubset
			for range ready {
				s.Addresses = append(s.Addresses, corev1.EndpointAddress{IP: "10.0.0.1"})
			}
			for range notReady {
				s.NotReadyAddresses = append(s.NotReadyAddresses, corev1.EndpointAddress{IP: "10.0.0.2"})
			}
			eps.Subsets = []corev1.EndpointSubset{s, s}
		}
		return eps
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, eps := range []*corev1.Endpoints{
		private("scaled-00001-private", 0, 0),
		private("starting-00001-private", 0, 1),
		private("up-00001-private", 2, 1),
		private("public-00001", 3, 0),
	} {
		if err := indexer.Add(eps); err != nil {
			t.Fatal(err)
		}
	}
	f := activatorhooks.EndpointsReadyBackends(corev1listers.NewEndpointsLister(indexer))
	tests := []struct {
		rev    string
		want   int
		wantOK bool
	}{
		{"scaled-00001", 0, true},
		{"starting-00001", 0, true},
		{"up-00001", 4, true},
		{"missing-00001", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.rev, func(t *testing.T) {
			n, ok := f(types.NamespacedName{Namespace: "demo", Name: tt.rev})
			if n != tt.want || ok != tt.wantOK {
				t.Errorf("ready backends = %d, %v; want %d, %v", n, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzTimelineHeader: whatever the pod answers in K-Kntrace-Timeline, the
// response is delivered without it and the phase spans, if any, are four,
// contiguous and never run backwards.
func FuzzTimelineHeader(f *testing.F) {
	for _, s := range []string{
		"start=1800000000005000000,ready=1800000000015000000",
		"start=1800000000005000000",
		"ready=1,start=2",
		"start=1,ready=9223372036854775807",
		"start=-1",
		"start=",
		",,,",
		"start=1,foo",
		"foo=bar,start=3",
		"",
		"start=1800000000005000000,ready=1700000000000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		h := activatorhooks.New(activatorhooks.WithTracerProvider(tp), activatorhooks.WithErrorHandler(func(error) {}),
			activatorhooks.WithClock(steppingClock(10*time.Millisecond)))
		rt := roundTripperFunc(func(*http.Request) (*http.Response, error) {
			resp := okResponse()
			resp.Header[http.CanonicalHeaderKey(coldstart.Header)] = []string{v}
			return resp, nil
		})
		rec := serve(kntraceChain(h, tp, fakeThrottler{dest: "10.0.0.1:8012"}, rt), nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", rec.Code)
		}
		if _, ok := rec.Header()[http.CanonicalHeaderKey(coldstart.Header)]; ok {
			t.Fatalf("response still carries %s", coldstart.Header)
		}
		var phases tracetest.SpanStubs
		for _, s := range exp.GetSpans() {
			if strings.HasPrefix(s.Name, coldstart.SpanPhasePrefix) {
				phases = append(phases, s)
			}
		}
		if len(phases) != 0 && len(phases) != 4 {
			t.Fatalf("%d phase spans, want 0 or 4", len(phases))
		}
		if len(phases) == 0 && h.MalformedTimelines() != 1 {
			t.Fatalf("no phases for %q but MalformedTimelines() = %d", v, h.MalformedTimelines())
		}
		for i, s := range phases {
			if s.EndTime.Before(s.StartTime) {
				t.Errorf("%s runs backwards: %v → %v", s.Name, s.StartTime, s.EndTime)
			}
			if i > 0 && !s.StartTime.Equal(phases[i-1].EndTime) {
				t.Errorf("%s starts at %v, previous phase ended at %v", s.Name, s.StartTime, phases[i-1].EndTime)
			}
		}
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
