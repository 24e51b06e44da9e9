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
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Waterfall widths.
const (
	// DefaultWaterfallWidth is used when no width is given.
	DefaultWaterfallWidth = 120
	// MinWaterfallWidth is the narrowest waterfall drawn; smaller widths are
	// raised to it.
	MinWaterfallWidth = 60
)

// Characters of the waterfall's bars.
const (
	barSpan  = '█'
	barPhase = '▒'
)

// ANSI SGR sequences used when colour is on.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
)

type waterfallConfig struct {
	width int
	color bool
}

// WaterfallOption configures WriteWaterfall.
type WaterfallOption interface{ applyWaterfall(*waterfallConfig) }

type waterfallOptionFunc func(*waterfallConfig)

func (f waterfallOptionFunc) applyWaterfall(c *waterfallConfig) { f(c) }

// WithWidth sets the total width in columns (default DefaultWaterfallWidth,
// at least MinWaterfallWidth).
func WithWidth(columns int) WaterfallOption {
	return waterfallOptionFunc(func(c *waterfallConfig) { c.width = columns })
}

// WithColor turns ANSI colour on or off (default off): errors red, cold-start
// phases cyan, the span that waited for the cold start yellow.
func WithColor(on bool) WaterfallOption {
	return waterfallOptionFunc(func(c *waterfallConfig) { c.color = on })
}

// WriteWaterfall draws t as text: a summary, then one row per span in tree
// order with a flag column (! error, ~ cold-start phase, * the request that
// waited for a cold start), the tree, service and operation, the duration
// and a time bar scaled to the width, then the errors and a legend.
func WriteWaterfall(w io.Writer, t *Trace, opts ...WaterfallOption) error {
	cfg := waterfallConfig{width: DefaultWaterfallWidth}
	for _, o := range opts {
		o.applyWaterfall(&cfg)
	}
	if cfg.width <= 0 {
		cfg.width = DefaultWaterfallWidth
	}
	cfg.width = max(cfg.width, MinWaterfallWidth)
	bw := bufio.NewWriter(w)
	d := drawer{w: bw, cfg: cfg, t: t}
	d.draw()
	return bw.Flush()
}

type drawer struct {
	w   *bufio.Writer
	cfg waterfallConfig
	t   *Trace
}

func (d *drawer) paint(color, s string) string {
	if !d.cfg.color || color == "" {
		return s
	}
	return color + s + ansiReset
}

// layout: flag(2) label(L) ' ' duration(8) "  " bar(B).
const (
	flagWidth     = 2
	durationWidth = 8
	fixedWidth    = flagWidth + 1 + durationWidth + 2
)

func (d *drawer) draw() {
	t := d.t
	total := t.Duration()
	labelW := min(max((d.cfg.width-fixedWidth)*2/5, 24), 64)
	barW := d.cfg.width - fixedWidth - labelW

	summary := fmt.Sprintf("Trace %s  %s  %s  %d spans  %d services", t.TraceID, t.StartTime.UTC().Format(time.RFC3339Nano),
		FormatDuration(total), t.SpanCount, len(t.Services))
	if t.Errors > 0 {
		summary += "  " + d.paint(ansiRed, plural(t.Errors, "error"))
	}
	fmt.Fprintln(d.w, summary)
	if cs := t.ColdStart; cs != nil {
		line := "Cold start"
		if cs.SpanID != "" {
			line += fmt.Sprintf(": waited %s in %s %q", FormatDuration(time.Duration(cs.WaitMicros)*time.Microsecond), cs.Service, cs.Operation)
		}
		if len(cs.Phases) > 0 {
			parts := make([]string, len(cs.Phases))
			for i, p := range cs.Phases {
				parts[i] = p.Name + " " + FormatDuration(time.Duration(p.DurationMicros)*time.Microsecond)
			}
			line += "; phases: " + strings.Join(parts, ", ")
		}
		fmt.Fprintln(d.w, d.paint(ansiYellow, line))
	}
	fmt.Fprintln(d.w)

	// Axis: 0 on the left, the middle, the total on the right.
	axis := []rune(strings.Repeat(" ", barW))
	place := func(at int, s string) {
		r := []rune(s)
		at = min(max(at, 0), barW-len(r))
		copy(axis[at:], r)
	}
	place(0, "0")
	place(barW/2-utf8.RuneCountInString(FormatDuration(total/2))/2, FormatDuration(total/2))
	place(barW, FormatDuration(total))
	fmt.Fprintf(d.w, "%*s%s %*s  %s\n", flagWidth, "", pad("SERVICE OPERATION", labelW), durationWidth, "DURATION", d.paint(ansiDim, string(axis)))

	// One tree style for every row: compact when a full row does not fit.
	prefixes, style := treePrefixes(t.Spans), 0
	for i, s := range t.Spans {
		if utf8.RuneCountInString(prefixes[i][0]+s.Service+" "+s.OperationName) > labelW {
			style = 1
		}
	}
	for i, s := range t.Spans {
		flag, color, bar := " ", "", barSpan
		switch {
		case s.Error:
			flag, color = "!", ansiRed
		case s.ColdStartPhase != "":
			flag, color, bar = "~", ansiCyan, barPhase
		case s.ColdStart:
			flag, color = "*", ansiYellow
		}
		if s.ColdStartPhase != "" {
			bar = barPhase
		}
		label := foldIndent(prefixes[i][style], labelW/3) + s.Service + " " + s.OperationName
		line := fmt.Sprintf("%-*s%s %*s  %s", flagWidth, flag, d.paint(color, pad(label, labelW)),
			durationWidth, FormatDuration(s.Duration()), d.paint(color, barCells(s, t, barW, bar)))
		fmt.Fprintln(d.w, strings.TrimRight(line, " "))
	}

	header := false
	for _, s := range t.Spans {
		if !s.Error {
			continue
		}
		if !header {
			fmt.Fprintln(d.w)
			fmt.Fprintln(d.w, "Errors:")
			header = true
		}
		msg := s.ErrorMessage
		if msg == "" {
			msg = "(no message)"
		}
		fmt.Fprintf(d.w, "  %s %s %s: %s\n", d.paint(ansiRed, "!"), s.Service, s.OperationName, msg)
	}
	var legend []string
	if t.Errors > 0 {
		legend = append(legend, "! error")
	}
	if t.ColdStart != nil {
		if len(t.ColdStart.Phases) > 0 {
			legend = append(legend, "~ "+string(barPhase)+" cold-start phase")
		}
		if t.ColdStart.SpanID != "" {
			legend = append(legend, "* waited for a cold start ("+attrColdStart+"=true)")
		}
	}
	if len(legend) > 0 {
		fmt.Fprintln(d.w)
		fmt.Fprintln(d.w, d.paint(ansiDim, "Legend: "+strings.Join(legend, "   ")))
	}
}

// barCells draws s's bar in width cells over the trace's duration.
func barCells(s *Span, t *Trace, width int, fill rune) string {
	total := float64(t.DurationMicros)
	from, to := 0, width
	if total > 0 {
		from = int(math.Floor(float64(s.OffsetMicros) / total * float64(width)))
		to = int(math.Ceil(float64(s.OffsetMicros+s.DurationMicros) / total * float64(width)))
	}
	from = min(max(from, 0), width-1)
	to = min(max(to, from+1), width)
	return strings.Repeat(" ", from) + strings.Repeat(string(fill), to-from)
}

// treePrefixes returns, for spans in tree order, the box-drawing prefix of
// each row, and a compact one (two columns a level) for rows that do not fit.
func treePrefixes(spans []*Span) [][2]string {
	out := make([][2]string, len(spans))
	last := map[*Span]bool{}
	for _, s := range spans {
		if n := len(s.Children); n > 0 {
			last[s.Children[n-1]] = true
		}
	}
	for i, s := range spans {
		if s.parent == nil {
			continue
		}
		full, compact := "├─ ", "├ "
		if last[s] {
			full, compact = "└─ ", "└ "
		}
		for a := s.parent; a.parent != nil; a = a.parent {
			if last[a] {
				full, compact = "   "+full, "  "+compact
			} else {
				full, compact = "│  "+full, "│ "+compact
			}
		}
		out[i] = [2]string{full, compact}
	}
	return out
}

// foldIndent keeps a deep row's name readable: a tree prefix longer than
// max runes keeps only its innermost levels behind a leading "…".
func foldIndent(prefix string, max int) string {
	r := []rune(prefix)
	if len(r) <= max || max < 2 {
		return prefix
	}
	return "…" + string(r[len(r)-max+1:])
}

// pad cuts s to width runes (ending in …) or pads it with spaces.
func pad(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n <= width {
		return s + strings.Repeat(" ", width-n)
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// FormatDuration writes d compactly with three significant digits at most:
// 850µs, 4.25ms, 120ms, 1.52s, 2m5s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return trimZeros(fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))) + "ms"
	case d < 100*time.Millisecond:
		return trimZeros(fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))) + "ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	case d < time.Minute:
		return trimZeros(fmt.Sprintf("%.2f", d.Seconds())) + "s"
	}
	return d.Round(time.Second).String()
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
