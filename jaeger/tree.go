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

package jaeger

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

func byStart(a, b *Span) int {
	return cmp.Or(a.StartTime.Compare(b.StartTime), comparePhaseSpans(a, b), cmp.Compare(a.SpanID, b.SpanID))
}

// comparePhaseSpans orders two cold-start phase spans as the phases happen
// (a zero-length image pull starts with the containers' start); 0 unless
// both are phases.
func comparePhaseSpans(a, b *Span) int {
	if a.ColdStartPhase == "" || b.ColdStartPhase == "" {
		return 0
	}
	return comparePhases(a.ColdStartPhase, b.ColdStartPhase)
}

// arrange links parents and children, picks the root, and lays the spans
// out depth-first.
func (t *Trace) arrange(spans []*Span) {
	slices.SortFunc(spans, byStart)
	var root *Span
	for _, s := range spans {
		if s.ParentSpanID == "" {
			root = s
			break
		}
	}
	if root == nil {
		root = spans[0]
	}
	for _, s := range spans {
		if s == root {
			continue
		}
		p := t.byID[s.ParentSpanID]
		if p == nil || p == s {
			if s.ParentSpanID != "" {
				t.Warnings = append(t.Warnings, fmt.Sprintf("span %s: parent %s is not in the trace: drawn under the root", s.SpanID, s.ParentSpanID))
			}
			s.Orphan = true
			p = root
		}
		s.parent = p
		p.Children = append(p.Children, s)
	}
	// Reference cycles leave spans unreachable from the root: break them.
	t.Spans = make([]*Span, 0, len(spans))
	seen := map[*Span]bool{}
	t.walk(root, 0, seen)
	for _, s := range spans {
		if seen[s] {
			continue
		}
		t.Warnings = append(t.Warnings, fmt.Sprintf("span %s: its references form a cycle: drawn under the root", s.SpanID))
		if p := s.parent; p != nil {
			p.Children = slices.DeleteFunc(p.Children, func(c *Span) bool { return c == s })
		}
		s.parent, s.Orphan = root, true
		root.Children = append(root.Children, s)
		t.walk(s, 1, seen)
	}
}

func (t *Trace) walk(s *Span, depth int, seen map[*Span]bool) {
	if seen[s] {
		return
	}
	seen[s] = true
	s.Depth = depth
	t.Spans = append(t.Spans, s)
	slices.SortFunc(s.Children, byStart)
	for _, c := range s.Children {
		t.walk(c, depth+1, seen)
	}
}

// markCritical marks s and, walking back from until, the children that
// determine when s ends.
func (t *Trace) markCritical(s *Span, until time.Time) {
	s.Critical = true
	t.CriticalPath = append(t.CriticalPath, s.SpanID)
	children := slices.Clone(s.Children)
	slices.SortFunc(children, func(a, b *Span) int { return b.End().Compare(a.End()) })
	for _, c := range children {
		if !c.StartTime.Before(until) {
			continue
		}
		end := c.End()
		if end.After(until) {
			end = until
		}
		t.markCritical(c, end)
		until = c.StartTime
	}
}
