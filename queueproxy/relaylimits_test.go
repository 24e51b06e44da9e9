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

package queueproxy_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/queueproxy"
)

// payload is an OTLP/HTTP protobuf export of one span whose attribute makes
// it about size bytes.
func payload(t *testing.T, size int) []byte {
	t.Helper()
	span := &tracepb.Span{
		Name: "padded", TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{1}, 8),
		Attributes: []*commonpb.KeyValue{{Key: "pad", Value: &commonpb.AnyValue{
			Value: &commonpb.AnyValue_StringValue{StringValue: string(bytes.Repeat([]byte("x"), size))}}}},
	}
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, addr string, body []byte) int {
	t.Helper()
	resp, err := http.Post("http://"+addr+conventions.TracesPath, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRelayLimitsFromAnnotations: the kntrace.dev/relay-* annotations in
// the podinfo file bound the relay's request size, its queue and its drain,
// and win over the KNTRACE_RELAY_* environment; a malformed one is ignored.
func TestRelayLimitsFromAnnotations(t *testing.T) {
	const unreachable = `{"tracing":{"protocol":"http/protobuf","endpoint":"http://127.0.0.1:1/v1/traces","samplingRate":1}}`
	tests := []struct {
		name        string
		annotations string
		env         map[string]string
		// probe is the size of one export; wantStatus what the relay
		// answers to the first and to the fourth.
		probe      int
		wantStatus []int
		// wantDrain bounds Shutdown with spans held for an unreachable
		// collector.
		wantDrainBelow time.Duration
	}{{
		name: "annotations set every limit",
		annotations: `kntrace.dev/relay-max-bytes="192Ki"` + "\n" +
			`kntrace.dev/relay-max-request-bytes="64Ki"` + "\n" +
			`kntrace.dev/relay-drain-timeout="200ms"` + "\n",
		// 60Ki fits a request; three fill 192Ki less than one more.
		probe:          60 << 10,
		wantStatus:     []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusTooManyRequests},
		wantDrainBelow: 3 * time.Second,
	}, {
		name:           "a request above the annotation's size is refused",
		annotations:    `kntrace.dev/relay-max-request-bytes="64Ki"` + "\n" + `kntrace.dev/relay-drain-timeout="200ms"` + "\n",
		probe:          100 << 10,
		wantStatus:     []int{http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
		wantDrainBelow: 3 * time.Second,
	}, {
		name:        "the annotation wins over the environment",
		annotations: `kntrace.dev/relay-max-request-bytes="1Mi"` + "\n" + `kntrace.dev/relay-drain-timeout="200ms"` + "\n",
		env:         map[string]string{"KNTRACE_RELAY_MAX_REQUEST_BYTES": "65536"},
		probe:       100 << 10,
		wantStatus:  []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK},
		// The drain annotation also wins over KNTRACE_RELAY_DRAIN_TIMEOUT.
		wantDrainBelow: 3 * time.Second,
	}, {
		name: "malformed annotations are ignored: the environment applies",
		annotations: `kntrace.dev/relay-max-request-bytes="lots"` + "\n" +
			`kntrace.dev/relay-max-bytes="2Gi"` + "\n" + `kntrace.dev/relay-drain-timeout="soon"` + "\n",
		env:            map[string]string{"KNTRACE_RELAY_MAX_REQUEST_BYTES": "65536", "KNTRACE_RELAY_DRAIN_TIMEOUT": "200"},
		probe:          100 << 10,
		wantStatus:     []int{http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
		wantDrainBelow: 3 * time.Second,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "annotations")
			if err := os.WriteFile(path, []byte(tc.annotations), 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"KNTRACE_RELAY_ADDRESS": "127.0.0.1:0", "OBSERVABILITY_CONFIG": unreachable,
				"KNTRACE_RELAY_DRAIN_TIMEOUT": "20000"}
			for k, v := range tc.env {
				env[k] = v
			}
			q, err := queueproxy.Setup(queueproxy.WithEnv(func(k string) string { return env[k] }), queueproxy.WithPodInfoPath(path))
			if err != nil {
				t.Fatal(err)
			}
			if q.Relay() == nil {
				t.Fatal("no relay")
			}
			body := payload(t, tc.probe)
			var got []int
			for range tc.wantStatus {
				got = append(got, post(t, q.Relay().Addr(), body))
			}
			if diff := cmp.Diff(tc.wantStatus, got); diff != "" {
				t.Errorf("answers to %d-byte exports (-want +got):\n%s", len(body), diff)
			}
			start := time.Now()
			_ = q.Shutdown(context.Background())
			if d := time.Since(start); d > tc.wantDrainBelow {
				t.Errorf("Shutdown took %s with spans for an unreachable collector, want below %s (the annotation's drain timeout)", d, tc.wantDrainBelow)
			}
		})
	}
}
