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
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Defaults of an Index.
const (
	// DefaultRetention is how long a span stays findable.
	DefaultRetention = 10 * time.Minute
	// DefaultMaxTraces bounds the kubelet and runtime traces kept.
	DefaultMaxTraces = 4096
	// DefaultMaxAPIRequests bounds the API server requests kept.
	DefaultMaxAPIRequests = 8192
)

// Span is what the index keeps of one span.
type Span struct {
	Service string
	Name    string
	Context trace.SpanContext
	Parent  trace.SpanID
	Start   time.Time
	End     time.Time
}

// APIRequest is one API server request the index keeps: its method, the
// object's namespace, resource (with subresource) and name, from the
// request's path.
type APIRequest struct {
	Method    string
	Namespace string
	Resource  string // "pods", "pods/binding" or "pods/status"
	Name      string // "" for a create
	Span      Span
}

// podRecord is a pod's first syncPod as the kubelet traced it.
type podRecord struct {
	uid  string
	sync Span
	seen time.Time
}

// Index keeps the spans that describe pods starting. It is safe for
// concurrent use.
type Index struct {
	retention time.Duration
	maxTraces int
	maxAPI    int
	now       func() time.Time

	mu      sync.Mutex
	changed chan struct{}         // closed by the next Add
	pods    map[string]*podRecord // namespace/name
	traces  map[trace.TraceID][]Span
	order   []trace.TraceID // insertion order of traces, for eviction
	api     []APIRequest    // oldest first
}

// NewIndex returns an empty Index with the defaults.
func NewIndex() *Index {
	return &Index{
		retention: DefaultRetention, maxTraces: DefaultMaxTraces, maxAPI: DefaultMaxAPIRequests, now: time.Now,
		pods: map[string]*podRecord{}, traces: map[trace.TraceID][]Span{}, changed: make(chan struct{}),
	}
}

// Changed returns a channel that is closed by the next Add.
func (x *Index) Changed() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.changed
}

// Add indexes the spans of one export that describe pods starting: every
// span of the kubelet and of the container runtime (by trace, so a pod's
// CRI calls are found from its syncPod), the kubelet's first syncPod of
// each pod, and the API server's requests that create, bind and update the
// status of pods. Everything else is ignored.
func (x *Index) Add(req []*tracepb.ResourceSpans) {
	x.mu.Lock()
	defer x.mu.Unlock()
	defer func() {
		close(x.changed)
		x.changed = make(chan struct{})
	}()
	now := x.now()
	x.expireLocked(now)
	for _, rs := range req {
		service := stringAttr(rs.GetResource().GetAttributes(), resourceServiceName)
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				switch service {
				case serviceKubelet, serviceContainerd:
					x.addRuntimeLocked(service, s, now)
				case serviceAPIServer:
					x.addAPILocked(s)
				}
			}
		}
	}
}

func (x *Index) addRuntimeLocked(service string, s *tracepb.Span, now time.Time) {
	sp := toSpan(service, s)
	if !sp.Context.IsValid() {
		return
	}
	tid := sp.Context.TraceID()
	if _, ok := x.traces[tid]; !ok {
		x.order = append(x.order, tid)
		if len(x.order) > x.maxTraces {
			delete(x.traces, x.order[0])
			x.order = x.order[1:]
		}
	}
	x.traces[tid] = append(x.traces[tid], sp)
	if service != serviceKubelet || s.GetName() != spanSyncPod || stringAttr(s.GetAttributes(), attrUpdateType) != updateTypeCreate {
		return
	}
	key := stringAttr(s.GetAttributes(), attrPodNamespace) + "/" + stringAttr(s.GetAttributes(), attrPodName)
	if old, ok := x.pods[key]; ok && !old.sync.Start.After(sp.Start) {
		return // keep the first create sync
	}
	x.pods[key] = &podRecord{uid: stringAttr(s.GetAttributes(), attrPodUID), sync: sp, seen: now}
}

func (x *Index) addAPILocked(s *tracepb.Span) {
	method := stringAttr(s.GetAttributes(), attrHTTPMethod)
	if method == "" {
		method = stringAttr(s.GetAttributes(), attrHTTPRequestMethod)
	}
	if method == "" {
		method, _, _ = strings.Cut(s.GetName(), " ")
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return
	}
	path := stringAttr(s.GetAttributes(), attrHTTPTarget)
	if path == "" {
		path = stringAttr(s.GetAttributes(), attrURLPath)
	}
	ns, resource, name, ok := parseAPIPath(path)
	if !ok {
		return
	}
	switch resource {
	case resourcePods, resourceBinding, resourceStatus:
	default:
		return
	}
	x.api = append(x.api, APIRequest{Method: method, Namespace: ns, Resource: resource, Name: name, Span: toSpan(serviceAPIServer, s)})
	if len(x.api) > x.maxAPI {
		x.api = x.api[len(x.api)-x.maxAPI:]
	}
}

// parseAPIPath reads /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]] and
// /apis/GROUP/VERSION/namespaces/NS/RESOURCE[/NAME[/SUB]] (a query is
// ignored).
func parseAPIPath(p string) (ns, resource, name string, ok bool) {
	p, _, _ = strings.Cut(p, "?")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return "", "", "", false
	}
	if len(parts) < 3 || parts[0] != "namespaces" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	ns, resource = parts[1], parts[2]
	if len(parts) >= 4 {
		name = parts[3]
	}
	if len(parts) == 5 {
		resource += "/" + parts[4]
	}
	if len(parts) > 5 {
		return "", "", "", false
	}
	return ns, resource, name, true
}

func (x *Index) expireLocked(now time.Time) {
	cutoff := now.Add(-x.retention)
	for k, p := range x.pods {
		if p.seen.Before(cutoff) {
			delete(x.pods, k)
		}
	}
	for len(x.order) > 0 {
		spans := x.traces[x.order[0]]
		if len(spans) > 0 && !spans[len(spans)-1].End.Before(cutoff) {
			break
		}
		delete(x.traces, x.order[0])
		x.order = x.order[1:]
	}
	i := 0
	for i < len(x.api) && x.api[i].Span.End.Before(cutoff) {
		i++
	}
	x.api = x.api[i:]
}

// PodStart is what the index knows of one pod's start.
type PodStart struct {
	UID string
	// Sync is the kubelet's first syncPod of the pod.
	Sync Span
	// Spans are the kubelet's and the runtime's spans of that sync's trace.
	Spans []Span
}

// Pod returns what is known of the start of pod namespace/name.
func (x *Index) Pod(namespace, name string) (PodStart, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	p, ok := x.pods[namespace+"/"+name]
	if !ok {
		return PodStart{}, false
	}
	return PodStart{UID: p.uid, Sync: p.sync, Spans: append([]Span(nil), x.traces[p.sync.Context.TraceID()]...)}, true
}

// APIRequests returns the kept API server requests on namespace.
func (x *Index) APIRequests(namespace string) []APIRequest {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []APIRequest
	for _, r := range x.api {
		if r.Namespace == namespace {
			out = append(out, r)
		}
	}
	return out
}

func toSpan(service string, s *tracepb.Span) Span {
	var tid trace.TraceID
	var sid, pid trace.SpanID
	copy(tid[:], s.GetTraceId())
	copy(sid[:], s.GetSpanId())
	copy(pid[:], s.GetParentSpanId())
	return Span{
		Service: service,
		Name:    s.GetName(),
		Context: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}),
		Parent:  pid,
		Start:   time.Unix(0, int64(s.GetStartTimeUnixNano())),
		End:     time.Unix(0, int64(s.GetEndTimeUnixNano())),
	}
}

func stringAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}
