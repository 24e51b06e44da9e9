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

package otlprelay

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/eventually"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
)

func sortedNames(tr *model.Trace) []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.OperationName)
	}
	slices.Sort(out)
	return out
}

// TestRelayCollectorStartsLate: with the collector down, an app posts spans
// (protobuf, gzip, JSON) to relays forwarding over OTLP/gRPC and OTLP/HTTP;
// every post is answered 200 at once; the collector starts 5 s later; every
// span arrives in Jaeger intact; Shutdown delivers what is pending.
func TestRelayCollectorStartsLate(t *testing.T) {
	stack := backends.Start(t, false)
	q, err := jaeger.Dial(context.Background(), stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	const spansPerRequest = 30

	type sent struct {
		traceID string
		service string
		names   []string
	}
	var all []sent
	relays := map[string]*Relay{}
	var traceByte byte = 0x10
	producedAt := time.Now()
	for _, protocol := range []string{conventions.ProtocolGRPC, conventions.ProtocolHTTPProtobuf} {
		endpoint := stack.Collector.GRPCEndpoint()
		if protocol == conventions.ProtocolHTTPProtobuf {
			endpoint = stack.Collector.HTTPEndpoint()
		}
		r, err := New(WithAddress("127.0.0.1:0"), WithCollector(protocol, endpoint), WithLogger(quiet),
			WithBackoff(backoff.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 2, Jitter: 0.2}))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = r.Shutdown(ctx)
		})
		relays[protocol] = r
		for _, enc := range []struct {
			name     string
			json, gz bool
		}{{"protobuf", false, false}, {"gzip", false, true}, {"json", true, false}, {"json-gzip", true, true}} {
			traceByte++
			service := fmt.Sprintf("kntrace-relay-%s-%s-%s", protocol[:4], enc.name, run)
			var names []string
			for i := range spansPerRequest {
				names = append(names, fmt.Sprintf("%s-%02d", enc.name, i))
			}
			req := otlpRequest(service, traceByte, names...)
			body, h := encode(t, req, enc.json, enc.gz)
			resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: POST while the collector is down: %s %s", protocol, enc.name, resp.Status, rb)
			}
			slices.Sort(names)
			all = append(all, sent{traceID: fmt.Sprintf("%032x", req.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId), service: service, names: names})
		}
	}
	eventually.True(t, 10*time.Second, "both relays to fail forwarding to the stopped collector", func() bool {
		return relays[conventions.ProtocolGRPC].Stats().Retries > 0 && relays[conventions.ProtocolHTTPProtobuf].Stats().Retries > 0
	})
	for p, r := range relays {
		if st := r.Stats(); st.ForwardedSpans != 0 || st.AcceptedSpans != 4*spansPerRequest {
			t.Fatalf("%s relay before the collector starts: %+v", p, st)
		}
	}

	// The collector comes up 5 s after the spans were made: this wait is the
	// delay being tested, not synchronisation.
	time.Sleep(time.Until(producedAt.Add(5 * time.Second)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stack.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// One relay drains, the other shuts down with spans pending: both deliver.
	if err := relays[conventions.ProtocolGRPC].Drain(ctx); err != nil {
		t.Fatalf("grpc relay drain: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	if err := relays[conventions.ProtocolHTTPProtobuf].Shutdown(sctx); err != nil {
		t.Fatalf("http relay shutdown with spans pending: %v", err)
	}
	for p, r := range relays {
		if st := r.Stats(); st.ForwardedSpans != 4*spansPerRequest || st.DroppedSpans != 0 {
			t.Errorf("%s relay after the collector started: %+v", p, st)
		}
	}
	for _, s := range all {
		tr := backends.WaitSpans(t, q, s.traceID, spansPerRequest)
		if diff := cmp.Diff(s.names, sortedNames(tr)); diff != "" {
			t.Errorf("trace %s (%s) span names (-want +got):\n%s", s.traceID, s.service, diff)
		}
		for _, sp := range tr.Spans {
			if sp.Process == nil || sp.Process.ServiceName != s.service {
				t.Errorf("span %s: service %v, want %s", sp.OperationName, sp.Process, s.service)
				break
			}
			seq, ok := model.KeyValues(sp.Tags).FindByKey("seq")
			if !ok || fmt.Sprintf("%s-%02d", sp.OperationName[:len(sp.OperationName)-3], seq.VInt64) != sp.OperationName {
				t.Errorf("span %s: seq attribute %v lost or wrong", sp.OperationName, seq)
			}
		}
	}
}
