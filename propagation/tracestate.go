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

package propagation

import (
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// W3C Trace Context tracestate limits (Level 1 and 2).
const (
	maxTracestateMembers = 32
	maxTracestateKey     = 256
	maxTracestateValue   = 256
)

// tsMember is one tracestate list-member.
type tsMember struct{ key, value string }

// w3cState keeps a received tracestate list that trace.TraceState cannot
// hold: Level 2 keys (a digit first, "@" anywhere, tenant and system parts
// of any length within 256 characters) that the Level 1 grammar
// OpenTelemetry's type enforces refuses. The span context's TraceState holds
// the members it can (otel); injection writes the whole list back when the
// span context still belongs to the trace it came with.
type w3cState struct {
	traceID trace.TraceID
	list    []tsMember
	otel    string
}

// parseTracestate reads the tracestate header lines vals as one list, as
// RFC 9110 combines field lines and the W3C Trace Context specification
// (Level 1 and 2) requires: members separated by commas, spaces and tabs
// around members ignored, empty and whitespace-only members allowed. A
// member that is not key=value by the Level 2 grammar, or more than 32
// members, makes the header unparsable and it is discarded whole (the
// specification allows that; the validation suite expects it). A repeated
// key keeps its first (left-most, most recent) member and drops the others,
// as the specification allows. traceID names the trace the list belongs to.
func parseTracestate(vals []string, traceID trace.TraceID) (trace.TraceState, *w3cState) {
	var (
		buf       [maxTracestateMembers]tsMember
		n, total  int
		canonical = len(vals) == 1 // ParseTraceState(vals[0]) yields the same list
		level2    bool
	)
	for _, v := range vals {
		for v != "" {
			var m string
			m, v, _ = strings.Cut(v, ",")
			t := trimOWS(m)
			if t == "" {
				if m != "" {
					canonical = false // trace.ParseTraceState refuses blank members
				}
				continue
			}
			total++
			if total > maxTracestateMembers {
				return trace.TraceState{}, nil
			}
			k, val, ok := strings.Cut(t, "=")
			if !ok || !validTracestateKey(k) || !validTracestateValue(val) {
				return trace.TraceState{}, nil
			}
			dup := false
			for _, e := range buf[:n] {
				if e.key == k {
					dup = true
					break
				}
			}
			if dup {
				canonical = false
				continue
			}
			if !level1Key(k) {
				level2 = true
				canonical = false
			}
			buf[n] = tsMember{k, val}
			n++
		}
	}
	if n == 0 {
		return trace.TraceState{}, nil
	}
	if canonical {
		ts, err := trace.ParseTraceState(vals[0])
		if err != nil {
			return trace.TraceState{}, nil
		}
		return ts, nil
	}
	var b strings.Builder
	for _, m := range buf[:n] {
		if level2 && !level1Key(m.key) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.key)
		b.WriteByte('=')
		b.WriteString(m.value)
	}
	ts, err := trace.ParseTraceState(b.String())
	if err != nil {
		return trace.TraceState{}, nil
	}
	if !level2 {
		return ts, nil
	}
	return ts, &w3cState{traceID: traceID, list: append([]tsMember(nil), buf[:n]...), otel: b.String()}
}

// trimOWS trims the optional whitespace (spaces and tabs) around s.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// validTracestateKey reports whether k follows the Level 2 key grammar:
// a lower-case letter or digit, then up to 255 of a-z 0-9 _ - * / @.
func validTracestateKey(k string) bool {
	if k == "" || len(k) > maxTracestateKey || !lcAlnum(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !keyChar(k[i]) && k[i] != '@' {
			return false
		}
	}
	return true
}

// level1Key reports whether k also follows the Level 1 grammar, the one
// trace.TraceState enforces: a simple key starting with a letter, or
// tenant@system with a tenant of up to 241 and a system of up to 14
// characters, the system starting with a letter.
func level1Key(k string) bool {
	tenant, system, multi := strings.Cut(k, "@")
	if !multi {
		return 'a' <= k[0] && k[0] <= 'z' // length and characters checked already
	}
	if tenant == "" || len(tenant) > 241 || system == "" || len(system) > 14 ||
		system[0] < 'a' || system[0] > 'z' {
		return false
	}
	return !strings.Contains(system, "@")
}

func lcAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func keyChar(c byte) bool {
	return lcAlnum(c) || c == '_' || c == '-' || c == '*' || c == '/'
}

// validTracestateValue reports whether v (OWS already trimmed) is 1 to 256
// printable ASCII characters other than "," and "=", not ending in a space.
func validTracestateValue(v string) bool {
	if v == "" || len(v) > maxTracestateValue || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// tracestateFor returns the tracestate to write for sc: the received list
// when st carries one for sc's trace, with the changes made since to sc's
// TraceState applied as the specification orders (new and updated members
// first, the others in their received order, at most 32); otherwise sc's
// TraceState.
func tracestateFor(sc trace.SpanContext, st *w3cState) string {
	ts := sc.TraceState()
	if st == nil || st.traceID != sc.TraceID() {
		return ts.String()
	}
	cur := ts.String()
	var out []tsMember
	if cur != st.otel {
		ts.Walk(func(k, v string) bool {
			if !st.has(k, v) {
				out = append(out, tsMember{k, v})
			}
			return true
		})
	}
	for _, m := range st.list {
		if level1Key(m.key) && (cur != st.otel && ts.Get(m.key) != m.value) {
			continue // updated (written first) or deleted
		}
		out = append(out, m)
	}
	if len(out) > maxTracestateMembers {
		out = out[:maxTracestateMembers]
	}
	var b strings.Builder
	for i, m := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.key)
		b.WriteByte('=')
		b.WriteString(m.value)
	}
	return b.String()
}

func (st *w3cState) has(k, v string) bool {
	for _, m := range st.list {
		if m.key == k {
			return m.value == v
		}
	}
	return false
}
