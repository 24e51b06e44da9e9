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
	"context"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/coldstart"
)

// instrumentationName is the scope of the spans Recorder writes.
const instrumentationName = "github.com/kntrace/kntrace/podstart"

// Recorder writes a cold start's Kubernetes phases into the request's trace
// and a link back into the kubelet's.
type Recorder struct{ tracer trace.Tracer }

// NewRecorder returns a Recorder whose spans tp exports. tp should sample
// by the parent: the request's span is sampled (the activator kept it).
func NewRecorder(tp trace.TracerProvider) *Recorder {
	return &Recorder{tracer: tp.Tracer(instrumentationName)}
}

// Record writes, under the request's span, coldstart.SpanKubernetes from the
// request's arrival to its first byte, linked to the kubelet's syncPod, with
// one child per phase named coldstart.SpanPhasePrefix+phase carrying
// coldstart.AttrPhase, coldstart.AttrSource (and coldstart.AttrImage on an
// image phase that pulled nothing) and linked to the span its end was taken
// from. Into the kubelet's trace of the pod's start it writes
// coldstart.SpanRequestLink, a child of syncPod linked to the request.
func (rc *Recorder) Record(r coldstart.Report, pod PodStart, phases []Phase) {
	if len(phases) == 0 {
		return
	}
	request := r.Request()
	attrs := []attribute.KeyValue{
		semconv.K8SNamespaceName(r.Namespace),
		semconv.K8SPodName(r.Pod),
		semconv.FaaSVersion(r.Revision),
	}
	if pod.UID != "" {
		attrs = append(attrs, semconv.K8SPodUID(pod.UID))
	}
	opts := []trace.SpanStartOption{
		trace.WithTimestamp(phases[0].Start),
		trace.WithAttributes(attrs...),
	}
	if pod.Sync.Context.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: pod.Sync.Context}))
	}
	ctx, group := rc.tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), request), coldstart.SpanKubernetes, opts...)
	for _, p := range phases {
		pa := []attribute.KeyValue{
			attribute.String(coldstart.AttrPhase, p.Name),
			attribute.String(coldstart.AttrSource, p.Source),
		}
		if p.ImagePresent {
			pa = append(pa, attribute.String(coldstart.AttrImage, coldstart.ImagePresent))
		}
		po := []trace.SpanStartOption{trace.WithTimestamp(p.Start), trace.WithAttributes(pa...)}
		if p.Evidence.IsValid() {
			po = append(po, trace.WithLinks(trace.Link{SpanContext: p.Evidence}))
		}
		_, s := rc.tracer.Start(ctx, coldstart.SpanPhasePrefix+p.Name, po...)
		s.End(trace.WithTimestamp(p.End))
	}
	group.End(trace.WithTimestamp(phases[len(phases)-1].End))

	if !pod.Sync.Context.IsValid() {
		return
	}
	_, back := rc.tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), pod.Sync.Context), coldstart.SpanRequestLink,
		trace.WithTimestamp(pod.Sync.Start), trace.WithAttributes(attrs...), trace.WithLinks(trace.Link{SpanContext: request}))
	back.End(trace.WithTimestamp(pod.Sync.End))
}
