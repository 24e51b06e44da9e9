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
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/internal/golden"
)

func TestWaterfallGolden(t *testing.T) {
	tr, err := Build(coldStartTrace())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		opts []WaterfallOption
	}{
		{name: "120 columns", file: "waterfall-coldstart-120.golden", opts: []WaterfallOption{WithWidth(120)}},
		{name: "80 columns in colour", file: "waterfall-coldstart-80-color.golden", opts: []WaterfallOption{WithWidth(80), WithColor(true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteWaterfall(&b, tr, tc.opts...); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.file, b.Bytes())
		})
	}
}

func TestWaterfallFitsWidth(t *testing.T) {
	tr, err := Build(coldStartTrace())
	if err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{0, 10, 60, 79, 100, 200, 333} {
		var b bytes.Buffer
		if err := WriteWaterfall(&b, tr, WithWidth(width)); err != nil {
			t.Fatal(err)
		}
		want := max(width, MinWaterfallWidth)
		if width == 0 {
			want = DefaultWaterfallWidth
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		rowsSeen := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "Trace ") || strings.HasPrefix(l, "Cold start") || strings.HasPrefix(l, "Legend") || strings.HasPrefix(l, "  ! ") {
				continue // summary lines are not cut to the width
			}
			if n := utf8.RuneCountInString(l); n > want {
				t.Errorf("width %d: line of %d columns: %q", width, n, l)
			}
			if strings.ContainsRune(l, barSpan) || strings.ContainsRune(l, barPhase) {
				rowsSeen++
			}
		}
		if rowsSeen != tr.SpanCount {
			t.Errorf("width %d: %d rows with a bar, want %d", width, rowsSeen, tr.SpanCount)
		}
		if strings.Contains(b.String(), "\x1b[") {
			t.Errorf("width %d: colour escape without WithColor", width)
		}
	}
}

// The bar of a span covers its share of the trace: the root fills the bar
// area and a span in the second half starts past the middle.
func TestWaterfallBarsScale(t *testing.T) {
	tr, err := Build(coldStartTrace())
	if err != nil {
		t.Fatal(err)
	}
	const width = 40
	tests := []struct {
		span     string
		from, to int
	}{
		{id(0xa1), 0, 40},  // 0-1520 ms
		{id(0xb2), 0, 19},  // 2-700 ms: floor(0.05)=0, ceil(18.4)=19
		{id(0xd1), 32, 40}, // floor(32.89)// 1250-1519 ms
		{id(0x11), 34, 39}, //// 1300-1480 ms: ceil(38.9)=39
	}
	for _, tc := range tests {
		got := barCells(tr.Span(tc.span), tr, width, 'x')
		from := strings.IndexRune(got, 'x')
		to := utf8.RuneCountInString(got)
		if from != tc.from || to != tc.to {
			t.Errorf("span %s bar = [%d,%d), want [%d,%d)", tc.span, from, to, tc.from, tc.to)
		}
	}
}

func BenchmarkWaterfall(b *testing.B) {
	tr, err := Build(coldStartTrace())
	if err != nil {
		b.Fatal(err)
	}
	for _, width := range []int{80, 200} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := WriteWaterfall(&buf, tr, WithWidth(width)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	in := coldStartTrace()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDeepTraceKeepsNamesReadable(t *testing.T) {
	// A chain 30 hops deep, as an event through broker, channel, filter and
	// activator makes: every row must still show its own operation name.
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var spans []*model.Span
	for i := range 30 {
		s := &model.Span{
			TraceID: model.NewTraceID(0, 0xdeef), SpanID: model.NewSpanID(uint64(i + 1)),
			OperationName: fmt.Sprintf("hop-%02d", i), StartTime: start.Add(time.Duration(i) * time.Millisecond),
			Duration: time.Duration(60-i) * time.Millisecond, Process: &model.Process{ServiceName: "svc"},
		}
		if i > 0 {
			s.References = []model.SpanRef{model.NewChildOfRef(s.TraceID, model.NewSpanID(uint64(i)))}
		}
		spans = append(spans, s)
	}
	tr, err := Build(&model.Trace{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteWaterfall(&b, tr, WithWidth(120)); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if name := fmt.Sprintf("svc hop-%02d", i); !strings.Contains(b.String(), name) {
			t.Errorf("row %q is cut at depth %d:\n%s", name, i, b.String())
		}
	}
}
