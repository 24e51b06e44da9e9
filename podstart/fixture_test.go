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
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/kntrace/kntrace/coldstart"
)

// t0 is the fixtures' request arrival.
var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

const (
	fixNS  = "demo"
	fixRev = "hello-00001"
	fixPod = "hello-00001-deployment-7d9c-x2x7q"
)

// fixReport is the activator's report of the fixture's cold start.
func fixReport() coldstart.Report {
	return coldstart.Report{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		Namespace: fixNS, Revision: fixRev, Pod: fixPod,
		Arrival: ms(0), ProcessStart: ms(700), AppReady: ms(1300), Handoff: ms(1450), FirstByte: ms(1470),
	}
}

func attr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func id(n int, size int) []byte {
	b := make([]byte, size)
	b[size-1] = byte(n)
	b[0] = 0xab
	return b
}

// span is a span of the fixture's traces: trace n, span m, parent p (0:
// none), from a to b milliseconds after t0.
func span(n, m, p int, name string, a, b int, attrs ...*commonpb.KeyValue) *tracepb.Span {
	s := &tracepb.Span{
		TraceId: id(n, 16), SpanId: id(m, 8), Name: name,
		StartTimeUnixNano: uint64(ms(a).UnixNano()), EndTimeUnixNano: uint64(ms(b).UnixNano()),
		Attributes: attrs,
	}
	if p != 0 {
		s.ParentSpanId = id(p, 8)
	}
	return s
}

func resourceSpans(service string, spans ...*tracepb.Span) *tracepb.ResourceSpans {
	return &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr(resourceServiceName, service)}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}
}

func apiSpan(m int, method, path string, a, b int) *tracepb.Span {
	return span(10+m, 100+m, 0, method+" "+path, a, b, attr(attrHTTPTarget, path))
}

// fixture is what the kubelet and the API server export for the fixture's
// cold start: the pod created at 180 ms, bound at 200 ms, sandbox ready at
// 450 ms, images pulled for pullMs, containers started at 690 ms, status
// Ready at 1400 ms; plus noise (another namespace, a GET, a warm sync).
func fixture(pullMs int) []*tracepb.ResourceSpans {
	kubelet := []*tracepb.Span{
		span(1, 1, 0, spanSyncPod, 210, 700, attr(attrUpdateType, updateTypeCreate), attr(attrPodNamespace, fixNS), attr(attrPodName, fixPod), attr(attrPodUID, "uid-1")),
		span(1, 2, 1, criRunPodSandbox, 215, 450),
	}
	at := 450
	if pullMs > 0 {
		kubelet = append(kubelet, span(1, 3, 1, criPullImage, at, at+pullMs))
		at += pullMs
	}
	kubelet = append(kubelet,
		span(1, 4, 1, criCreateContainer, at+5, at+40),
		span(1, 5, 1, criStartContainer, at+40, at+80),
		span(1, 6, 1, criCreateContainer, at+85, at+120),
		span(1, 7, 1, criStartContainer, at+120, 690+pullMs),
		// A later sync of the same pod is not its start.
		span(2, 8, 0, spanSyncPod, 1500, 1510, attr(attrUpdateType, "update"), attr(attrPodNamespace, fixNS), attr(attrPodName, fixPod)),
	)
	return []*tracepb.ResourceSpans{
		resourceSpans(serviceKubelet, kubelet...),
		resourceSpans(serviceContainerd, span(1, 9, 2, "runtime.v1.RuntimeService/RunPodSandbox", 220, 445)),
		resourceSpans(serviceAPIServer,
			apiSpan(1, "POST", "/api/v1/namespaces/"+fixNS+"/pods", 150, 180),
			apiSpan(2, "POST", "/api/v1/namespaces/other/pods", 185, 190),
			apiSpan(3, "POST", "/api/v1/namespaces/"+fixNS+"/pods/"+fixPod+"/binding", 190, 200),
			apiSpan(4, "GET", "/api/v1/namespaces/"+fixNS+"/pods/"+fixPod, 300, 301),
			apiSpan(5, "PATCH", "/api/v1/namespaces/"+fixNS+"/pods/"+fixPod+"/status", 710+pullMs, 720+pullMs),
			apiSpan(6, "PATCH", "/api/v1/namespaces/"+fixNS+"/pods/"+fixPod+"/status?fieldManager=kubelet", 1390+pullMs, 1400+pullMs),
		),
	}
}
