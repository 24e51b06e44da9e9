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

package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs what `make demo` runs, without waiting for Ctrl-C, and
// checks that it shows what the README promises.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out, WithoutWaiting()); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"refused, nothing was written",
		`200 OK "Hello, Knative!"`,
		"202 Accepted",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Both traces are drawn, each with the activator's wait split into the
	// phases that explain it.
	waits := regexp.MustCompile(`Cold start: waited \S+ in activator "GET"; phases: pod_start \S+, app_init \S+, readiness \S+, proxy \S+`).FindAllString(text, -1)
	if len(waits) != 2 {
		t.Errorf("want 2 cold-start waterfalls with all four phases, got %d:\n%s", len(waits), text)
	}
	for _, svc := range []string{"helloworld", "greeter", "producer", "consumer", "broker.ingress"} {
		if !strings.Contains(text, " "+svc+" ") {
			t.Errorf("no span of %s in the waterfalls", svc)
		}
	}
}
