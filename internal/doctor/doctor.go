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

package doctor

import (
	"context"
	"time"

	"k8s.io/client-go/kubernetes"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/internal/tunnel"
)

// probeService is the name of the Service doctor creates with dryRun=All
// to see the webhook answer; nothing is stored.
const probeService = "kntrace-doctor-probe"

// Options say where to look.
type Options struct {
	// Namespace limits the Services checked and holds the webhook's dry-run
	// probe ("": Services of all namespaces, probe in default).
	Namespace string
	// Collector is the collector endpoint to probe (URL or host:port; "":
	// config-observability's tracing-endpoint).
	Collector string
	// Jaeger is host:port of Jaeger's query gRPC API; "" reaches
	// JaegerService through Tunnel.
	Jaeger string
	// JaegerService is Jaeger's query gRPC API in the cluster.
	JaegerService tunnel.Target
	// Tunnel forwards a local port to a Service through the API server
	// (tunnel.Open with the caller's kubeconfig); nil probes only what is
	// reachable from here.
	Tunnel func(context.Context, tunnel.Target) (*tunnel.Tunnel, error)
	// Shape is which ConfigMap Knative reads: auto, observability or legacy.
	Shape string
	// Timeout bounds each probe of the collector and Jaeger.
	Timeout time.Duration
}

// Run runs every check and returns the report; it never stops at a failed
// check.
func Run(ctx context.Context, kube kubernetes.Interface, serving servingclient.Interface, opts Options) *Report {
	d := &doctor{kube: kube, serving: serving, opts: opts, report: &Report{}}
	d.run(ctx)
	return d.report
}

type doctor struct {
	kube    kubernetes.Interface
	serving servingclient.Interface
	opts    Options
	report  *Report

	installed  map[string]bool
	statuses   map[string]*configmaps.Status
	webhookURL bool
}

func (d *doctor) run(ctx context.Context) {
	d.knative(ctx)
	d.samplerEnv(ctx)
	d.collector(ctx)
	d.jaeger(ctx)
	d.webhook(ctx)
	d.pipeline(ctx)
	d.dataPlane(ctx)
	d.services(ctx)
	d.podInfo(ctx)
}
