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

package webhook_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/test/apiserver"
)

var (
	benchOnce sync.Once
	benchErr  error
	benchSeq  int
)

// benchSetup starts one cluster and webhook for all runs of the benchmark.
func benchSetup(b *testing.B) *benchCluster {
	b.Helper()
	bin := webhookBinary(b)
	benchOnce.Do(func() {
		srv, err := apiserver.Start(context.Background())
		if err != nil {
			benchErr = err
			return
		}
		dir, err := os.MkdirTemp(srv.Dir, "webhook-")
		if err != nil {
			benchErr = err
			return
		}
		c, err := startCluster(b, srv, dir)
		if err != nil {
			srv.Stop()
			benchErr = err
			return
		}
		sharedCluster = &benchCluster{cluster: c}
		// At the level the Deployment runs with.
		benchErr = c.startWebhook(b, bin, "info")
		for _, ns := range []string{"bench-no-webhook", "bench-kntrace-webhook"} {
			if _, err := srv.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && benchErr == nil {
				benchErr = err
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return sharedCluster
}

// BenchmarkAdmission measures the latency of creating an annotated Knative
// Service through the real API server, without any webhook (what a user
// would otherwise have) and with kntrace's webhook injecting it. Each run
// makes at least 1000 creates and reports p50 and p99 in milliseconds; ns/op
// is the mean.
func BenchmarkAdmission(b *testing.B) {
	c := benchSetup(b)
	mwcs := c.srv.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	for _, bc := range []struct {
		name    string
		webhook bool
	}{{"no-webhook", false}, {"kntrace-webhook", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			ns := "bench-" + bc.name
			if bc.webhook {
				if err := c.registerWebhook(b); err != nil {
					b.Fatal(err)
				}
			} else {
				_ = mwcs.Delete(ctx, conventions.WebhookConfigurationName, metav1.DeleteOptions{})
				if err := c.process.WaitFor(30*time.Second, "the API server to stop calling the webhook", func(ctx context.Context) error {
					got, err := c.serving.ServingV1().Services(ns).Create(ctx, annotated("probe", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
					if err != nil {
						return err
					}
					if revisions.Injected(&got.Spec.Template) {
						return fmt.Errorf("still injected")
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			services := c.serving.ServingV1().Services(ns)
			n := max(b.N, 1000)
			lat := make([]time.Duration, 0, n)
			b.ResetTimer()
			for range n {
				benchSeq++
				svc := annotated(fmt.Sprintf("s-%d", benchSeq), nil)
				start := time.Now()
				got, err := services.Create(ctx, svc, metav1.CreateOptions{})
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if revisions.Injected(&got.Spec.Template) != bc.webhook {
					b.Fatalf("create %d: injected = %v, want %v", len(lat), !bc.webhook, bc.webhook)
				}
			}
			b.StopTimer()
			var total time.Duration
			for _, d := range lat {
				total += d
			}
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(float64(total.Nanoseconds())/float64(n), "ns/op")
			b.ReportMetric(ms(lat[n/2]), "p50-ms")
			b.ReportMetric(ms(lat[n*99/100]), "p99-ms")
			b.ReportMetric(float64(n), "creates")
		})
	}
}
