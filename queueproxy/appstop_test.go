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
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/otlprelay"
	"github.com/kntrace/kntrace/queueproxy"
)

// TestShutdownWaitsForTheApp: on a cluster the app gets SIGTERM, and
// flushes its spans, only after Knative's Main has returned (its preStop
// hook waits for the queue-proxy's drain). Shutdown keeps the relay up
// while the app still listens on USER_PORT, so a flush then is forwarded;
// an app that never stops costs at most the drain timeout.
func TestShutdownWaitsForTheApp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		appStops bool
	}{
		{name: "the app flushes, then stops", appStops: true},
		{name: "the app never stops: bounded by the drain timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var exports atomic.Int64
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				exports.Add(1)
				w.WriteHeader(http.StatusOK)
			}))
			defer collector.Close()
			app, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			env := map[string]string{
				"KNTRACE_RELAY_ADDRESS": "127.0.0.1:0",
				"OBSERVABILITY_CONFIG":  `{"tracing":{"protocol":"http/protobuf","endpoint":"` + collector.URL + conventions.TracesPath + `","samplingRate":1}}`,
				queueproxy.EnvUserPort:  strconv.Itoa(app.Addr().(*net.TCPAddr).Port),
			}
			const drain = 2 * time.Second
			q, err := queueproxy.Setup(queueproxy.WithEnv(func(k string) string { return env[k] }),
				queueproxy.WithPodInfoPath(t.TempDir()+"/none"),
				queueproxy.WithRelayDrainTimeout(drain),
				// Without the wait for the app, the relay would stop at once.
				queueproxy.WithRelayOptions(otlprelay.WithDrainQuietPeriod(time.Millisecond)))
			if err != nil {
				t.Fatal(err)
			}
			relay := q.Relay()
			if relay == nil {
				t.Fatal("no relay")
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- q.Shutdown(context.Background()) }()

			if !tc.appStops {
				select {
				case <-done:
				case <-time.After(4 * drain):
					t.Fatalf("Shutdown still running %s after it started, with a drain timeout of %s", 4*drain, drain)
				}
				if d := time.Since(start); d < drain {
					t.Errorf("Shutdown returned after %s while the app still listened; want it to wait the drain timeout (%s)", d, drain)
				}
				return
			}
			// The app's flush at its SIGTERM, after Knative's Main returned.
			if code := post(t, relay.Addr(), payload(t, 100)); code != http.StatusOK {
				t.Fatalf("the app's flush after Main returned: %d, want 200 (the relay must outlive the app)", code)
			}
			select {
			case err := <-done:
				t.Fatalf("Shutdown returned (%v) while the app still listened", err)
			default:
			}
			app.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			case <-time.After(4 * drain):
				t.Fatalf("Shutdown still running %s after the app stopped", 4*drain)
			}
			if st := relay.Stats(); st.ForwardedSpans != 1 || st.DroppedSpans != 0 || exports.Load() == 0 {
				t.Errorf("relay %+v, collector got %d exports; want the app's one span forwarded, none dropped", st, exports.Load())
			}
		})
	}
}
