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
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kntrace/kntrace/coldstart"
)

// Stats counts what a Server did.
type Stats struct {
	// Exports and Spans are the OTLP exports and spans received.
	Exports, Spans uint64
	// RelayRefused are spans the relay did not take (full or closing).
	RelayRefused uint64
	// Reports are the activator's reports taken, Refused those refused
	// (invalid or too many waiting), Duplicates those answered as taken
	// because the same report already was (a retried post).
	Reports, Refused, Duplicates uint64
	// Recorded are cold starts whose phases were written, Incomplete those
	// whose records did not all arrive in time.
	Recorded, Incomplete uint64
}

// Server receives the Kubernetes components' spans (OTLP/gRPC, it is a
// coltracepb.TraceServiceServer) and the activator's reports (HTTP, it is
// an http.Handler for ReportPath), and records each reported cold start's
// phases once their records have arrived. Run does the recording.
type Server struct {
	coltracepb.UnimplementedTraceServiceServer

	cfg      config
	recorder *Recorder

	mu      sync.Mutex
	pending []pendingReport
	taken   recentReports // the reports taken lately, waiting or done
	wake    chan struct{} // one token: a report arrived

	exports, spans, relayRefused atomic.Uint64
	reports, refused, duplicates atomic.Uint64
	recorded, incomplete         atomic.Uint64
}

type pendingReport struct {
	report   coldstart.Report
	deadline time.Time
}

var (
	_ coltracepb.TraceServiceServer = (*Server)(nil)
	_ http.Handler                  = (*Server)(nil)
)

// New returns a Server configured by opts.
func New(opts ...Option) *Server {
	c := newConfig(opts)
	return &Server{cfg: c, recorder: NewRecorder(c.tp), taken: newRecentReports(rememberedReports * c.maxPending), wake: make(chan struct{}, 1)}
}

// Index is the server's index.
func (s *Server) Index() *Index { return s.cfg.index }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Exports: s.exports.Load(), Spans: s.spans.Load(), RelayRefused: s.relayRefused.Load(),
		Reports: s.reports.Load(), Refused: s.refused.Load(), Duplicates: s.duplicates.Load(),
		Recorded: s.recorded.Load(), Incomplete: s.incomplete.Load(),
	}
}

// Export indexes one export and hands it to the relay. It never fails the
// sender: spans the relay refuses are counted and reported as rejected.
func (s *Server) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	n := spanCount(req.GetResourceSpans())
	s.exports.Add(1)
	s.spans.Add(uint64(n))
	s.cfg.index.Add(req.GetResourceSpans())
	resp := &coltracepb.ExportTraceServiceResponse{}
	if s.cfg.relay == nil || n == 0 {
		return resp, nil
	}
	pb, err := proto.Marshal(req)
	if err == nil {
		err = s.cfg.relay.Accept(pb)
	}
	if err != nil {
		s.relayRefused.Add(uint64(n))
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: int64(n), ErrorMessage: "kntrace podstart: not relayed to the collector: " + err.Error()}
	}
	return resp, nil
}

// ServeHTTP takes one report (POST ReportPath, application/json): 202 when
// it waits for its records or was taken before (a retried post is recorded
// once), 400 naming what is wrong, 429 when too many wait.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method "+r.Method+": want POST", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.refused.Add(1)
		http.Error(w, fmt.Sprintf("Content-Type %q: want application/json", r.Header.Get("Content-Type")), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReportBytes+1))
	if err != nil {
		s.refused.Add(1)
		http.Error(w, "reading the report: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxReportBytes {
		s.refused.Add(1)
		http.Error(w, fmt.Sprintf("report larger than %d bytes", maxReportBytes), http.StatusRequestEntityTooLarge)
		return
	}
	var rep coldstart.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		s.refused.Add(1)
		http.Error(w, "report: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := rep.Validate(); err != nil {
		s.refused.Add(1)
		http.Error(w, "report: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch s.enqueue(rep) {
	case full:
		s.refused.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("%d reports already wait for their records", s.cfg.maxPending), http.StatusTooManyRequests)
		return
	case duplicate:
		s.duplicates.Add(1)
	default:
		s.reports.Add(1)
	}
	w.WriteHeader(http.StatusAccepted)
}

// enqueued is what enqueue did with a report.
type enqueued int

const (
	queued enqueued = iota
	duplicate
	full
)

func (s *Server) enqueue(rep coldstart.Report) enqueued {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken.has(rep) {
		return duplicate
	}
	if len(s.pending) >= s.cfg.maxPending {
		return full
	}
	s.taken.add(rep)
	s.pending = append(s.pending, pendingReport{report: rep, deadline: time.Now().Add(s.cfg.wait)})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return queued
}

// Run records the reported cold starts as their records arrive, until ctx
// is done. A report whose records are still missing at its deadline is
// dropped, counted (Stats.Incomplete) and logged with what was missing.
func (s *Server) Run(ctx context.Context) error {
	for {
		changed := s.cfg.index.Changed()
		next := s.tryPending()
		var timeout <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timeout = t.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-s.wake:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// tryPending records every pending report whose records are complete and
// returns the earliest deadline of those still waiting.
func (s *Server) tryPending() time.Time {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()

	var keep []pendingReport
	var next time.Time
	now := time.Now()
	for _, p := range pending {
		r := p.report
		pod, _ := s.cfg.index.Pod(r.Namespace, r.Pod)
		phases, err := Phases(r, pod, s.cfg.index.APIRequests(r.Namespace))
		switch {
		case err == nil:
			s.recorder.Record(r, pod, phases)
			s.recorded.Add(1)
			s.cfg.logger.Info("cold start recorded with its Kubernetes phases", "trace", r.TraceID, "pod", r.Namespace+"/"+r.Pod,
				"total", r.FirstByte.Sub(r.Arrival).Round(time.Millisecond).String(), "phases", len(phases))
		case now.After(p.deadline):
			s.incomplete.Add(1)
			s.cfg.logger.Warn("cold start recorded without its Kubernetes phases", "trace", r.TraceID, "pod", r.Namespace+"/"+r.Pod, "waited", s.cfg.wait, "error", err)
		default:
			keep = append(keep, p)
			if next.IsZero() || p.deadline.Before(next) {
				next = p.deadline
			}
		}
	}
	if len(keep) > 0 {
		s.mu.Lock()
		s.pending = append(keep, s.pending...)
		s.mu.Unlock()
	}
	return next
}

// spanCount is the number of spans in rss.
func spanCount(rss []*tracepb.ResourceSpans) int {
	n := 0
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}
