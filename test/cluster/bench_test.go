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

package cluster

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// benchPlan: 24 cold starts and 1000 warm requests per data plane.
var benchPlan = comparePlan{services: 8, rounds: 3, warm: 1000}

// BenchmarkClusterIngress measures what a user of a Knative cluster feels,
// through Traefik, on one local cluster in one run: first with kntrace's
// activator and queue-proxy, then with Knative's own (the overlays
// removed, everything else kept), the same plain Services (benchPlan), at
// sampling rate 1:
//
//	cold/{kntrace,upstream}  ttfb-ms: median time to first byte from zero
//	warm/{kntrace,upstream}  p50-ms, p99-ms: sequential sampled requests;
//	                         act-, qp-, backend- and app-cpu-ms/kreq: the
//	                         CPU time per 1000 of them of the activator, the
//	                         queue-proxy, the Collector with Jaeger, and the
//	                         app (the same program on both sides: the
//	                         control)
//
// Booting the cluster takes minutes, so make bench runs this suite once
// and the figures are medians of its own samples; the data planes cannot
// alternate (swapping the activator takes about a minute).
func BenchmarkClusterIngress(b *testing.B) {
	c := StartForTest(b)
	ctx := context.Background()
	for _, install := range []func(context.Context) error{c.InstallServing, c.InstallTraefik, c.InstallKntrace} {
		if err := install(ctx); err != nil {
			b.Fatal(err)
		}
	}
	image, err := c.GoImage(ctx, ProbeProgram)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: compareNS}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer jc.Close()
	// Every request traced on both sides, as in the scenario: at rate 1
	// Knative's activator also records the B3 request it cannot read.
	if err := c.setSamplingRate(ctx, "1"); err != nil {
		b.Fatal(err)
	}
	kntrace := compareDataPlane(ctx, b, c, jc, image, "kntrace", true, benchPlan)
	if err := c.UseUpstreamDataPlane(ctx); err != nil {
		b.Fatal(err)
	}
	upstream := compareDataPlane(ctx, b, c, jc, image, "upstream", false, benchPlan)

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, f := range []struct {
		name string
		d    dataPlaneFigures
	}{{"kntrace", kntrace}, {"upstream", upstream}} {
		b.Run("cold/"+f.name, func(b *testing.B) {
			b.ReportMetric(ms(percentile(f.d.coldTTFB, 50)), "ttfb-ms")
		})
		b.Run("warm/"+f.name, func(b *testing.B) {
			b.ReportMetric(ms(percentile(f.d.warm, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(f.d.warm, 99)), "p99-ms")
			perKreq := func(names ...string) float64 {
				var d time.Duration
				for _, n := range names {
					d += f.d.warmCPU[n]
				}
				return ms(d) * 1000 / float64(len(f.d.warm))
			}
			b.ReportMetric(perKreq("activator"), "act-cpu-ms/kreq")
			b.ReportMetric(perKreq("queue-proxy"), "qp-cpu-ms/kreq")
			b.ReportMetric(perKreq("collector", "jaeger"), "backend-cpu-ms/kreq")
			b.ReportMetric(perKreq("user-container"), "app-cpu-ms/kreq")
		})
	}
}
