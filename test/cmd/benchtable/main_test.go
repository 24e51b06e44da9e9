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

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableWithoutTheQueueProxyRowsFails: output in which the queue-proxy
// suite left no rows (the bug `make bench` had) prints MISSED rows for its
// targets and is an error.
func TestTableWithoutTheQueueProxyRowsFails(t *testing.T) {
	in := `pkg: github.com/kntrace/kntrace/propagation
BenchmarkExtract/w3c-only/kntrace-2   	  100000	      300 ns/op	     0 B/op	       0 allocs/op
BenchmarkExtract/w3c-only/otel-2      	  100000	      310 ns/op	     0 B/op	       0 allocs/op
PASS
`
	var out bytes.Buffer
	err := table(nil, "", strings.NewReader(in), &out)
	if err == nil || !strings.Contains(err.Error(), "targets have no result") {
		t.Fatalf("error %v, want one about targets without a result", err)
	}
	for _, want := range []string{"^BenchmarkQueueProxy/sampling=1$", "^BenchmarkQueueProxy/sampling=0$", "no result", "MISSED", "Extract/w3c-only"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
