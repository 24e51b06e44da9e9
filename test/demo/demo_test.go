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
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs what `make demo` runs, on the real cluster, without waiting
// for Ctrl-C, and checks that it shows what the README promises. It boots
// the cluster of test/cluster (root; it queues behind a cluster test that
// holds the machine) and takes about six minutes on a warm cache.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := Run(ctx, &out, WithoutWaiting())
	text := out.String()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, text)
	}
	t.Logf("the demo ran in %s:\n%s", time.Since(start).Round(time.Second), text)

	for _, want := range []string{
		// kn trace config show reads what kntrace's controller wrote.
		"$ kn trace config show --serving\nknative-serving/config-observability",
		"tracing-endpoint:      http://otel-collector.kntrace-system.svc.cluster.local:4317",
		// The refusal names the key, what Knative would do and the fix.
		"$ kn trace config set --endpoint 10.0.0.1:4317\nError: refused, nothing was written:",
		`knative-serving/config-observability: tracing-endpoint "10.0.0.1:4317": passes Knative's validation but url.Parse rejects it, so every Knative component fails at start-up and crash-loops`,
		"fix: write it as a URL with a scheme, e.g. http://10.0.0.1:4317\n(exit status 3)",
		`200 OK "Hello, Knative!", time to first byte `,
		`202 Accepted "`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(text, "(exit status"); n != 1 {
		t.Errorf("%d kn trace commands failed, want only the refused endpoint", n)
	}

	// The client's trace IDs, B3 then W3C, are the two traces drawn.
	var sent []string
	for _, re := range []string{`X-B3-TraceId: ([0-9a-f]{32})`, `traceparent: 00-([0-9a-f]{32})-[0-9a-f]{16}-01`} {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("demo output has no %s", re)
		}
		sent = append(sent, m[1])
	}
	headers := regexp.MustCompile(`(?m)^Trace ([0-9a-f]{32})  \S+  \S+  (\d+) spans  (\d+) services$`).FindAllStringSubmatch(text, -1)
	if len(headers) != 2 {
		t.Fatalf("want 2 waterfalls, got %d", len(headers))
	}
	// helloworld's: activator, kntrace-podstart, helloworld, greeter; the
	// event's: activator, kntrace-podstart, producer, broker.ingress,
	// inmemorychannel-dispatcher, broker.filter, consumer.
	for i, want := range []int{4, 7} {
		if id := headers[i][1]; id != sent[i] {
			t.Errorf("waterfall %d is trace %s, want the client's %s", i+1, id, sent[i])
		}
		if got, _ := strconv.Atoi(headers[i][3]); got != want {
			t.Errorf("waterfall %d (trace %s): %d services, want %d", i+1, headers[i][1], got, want)
		}
	}

	// Each trace's cold start is the activator's wait split into the
	// Kubernetes phases podstart took from the API server, the kubelet and
	// containerd, then the app's start and the proxying.
	waits := regexp.MustCompile(`(?m)^Cold start: waited \S+ in activator "GET"; phases: scale_up \S+, scheduling \S+, sandbox \S+, image \S+, containers \S+, app_init \S+, readiness \S+, endpoints \S+, proxy \S+$`).FindAllString(text, -1)
	if len(waits) != 2 {
		t.Errorf("want 2 cold-start waterfalls with the nine Kubernetes phases, got %d", len(waits))
	}
	for _, svc := range []string{"activator", "kntrace-podstart", "helloworld", "greeter", "producer",
		"broker.ingress", "inmemorychannel-dispatcher", "broker.filter", "consumer"} {
		if !regexp.MustCompile(`(?m)^[*~ ] [ …│├└]*` + regexp.QuoteMeta(svc) + ` `).MatchString(text) {
			t.Errorf("no span of %s in the waterfalls", svc)
		}
	}
	if n := strings.Count(text, "Legend: ~ ▒ cold-start phase   * waited for a cold start (faas.coldstart=true)"); n != 2 {
		t.Errorf("%d legends, want one under each waterfall", n)
	}
	// kn trace list finds helloworld's trace and its cold start.
	if !regexp.MustCompile(`(?m)^` + sent[0] + `  .* waited \S+ +activator GET +0$`).MatchString(text) {
		t.Errorf("kn trace list helloworld does not list trace %s with its cold start", sent[0])
	}
}
