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

package podstart

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseAPIPath: the API server's paths never panic the parser, and
// what it accepts names a namespace and a resource with no slash but the
// subresource's.
func FuzzParseAPIPath(f *testing.F) {
	f.Add("/api/v1/namespaces/demo/pods/p1/binding")
	f.Add("/apis/apps/v1/namespaces/demo/deployments/d/scale?x=1")
	f.Add("/api/v1/namespaces//pods")
	f.Add("////")
	f.Fuzz(func(t *testing.T, p string) {
		ns, resource, _, ok := parseAPIPath(p)
		if !ok {
			return
		}
		if ns == "" || resource == "" || strings.Contains(ns, "/") || strings.Count(resource, "/") > 1 {
			t.Errorf("parseAPIPath(%q) accepted ns %q resource %q", p, ns, resource)
		}
	})
}

// FuzzReport: any body the report endpoint receives is answered with a
// status, never a panic; only a valid report is taken (once).
func FuzzReport(f *testing.F) {
	f.Add([]byte(`{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"00f067aa0ba902b7","namespace":"a","revision":"b","pod":"c","arrival":"2026-12-02T01:00:00Z","handoff":"2026-12-02T01:00:01Z","firstByte":"2026-12-02T01:00:02Z","processStart":"2026-12-02T01:00:00.5Z"}`))
	f.Add([]byte(`{"arrival":"x"}`))
	f.Add([]byte(`null`))
	srv := New(WithMaxPending(1 << 20))
	f.Fuzz(func(t *testing.T, body []byte) {
		before := srv.Stats()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/coldstarts", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.ServeHTTP(rec, req)
		after := srv.Stats()
		taken, again := after.Reports-before.Reports, after.Duplicates-before.Duplicates
		if (rec.Code == http.StatusAccepted) != (taken+again == 1) {
			t.Errorf("status %d with %d reports taken and %d taken before", rec.Code, taken, again)
		}
	})
}
