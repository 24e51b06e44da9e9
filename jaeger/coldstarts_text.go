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
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kntrace/kntrace/coldstart"
)

// coldStartTime is how WriteColdStarts writes a time.
const coldStartTime = "2006-01-02 15:04:05"

// WriteColdStarts writes r as text, times in loc: a heading, a table of the
// cold starts (namespace when r covers every one, time, revision, trace ID,
// joined requests, total and each phase in milliseconds), each one's summary line, the p50/p95 of the total
// and of each phase, and the requests that joined a cold start not in the
// window.
func WriteColdStarts(w io.Writer, r *ColdStartReport, loc *time.Location) error {
	bw := bufio.NewWriter(w)
	at := func(t time.Time) string { return t.In(loc).Format(coldStartTime) }
	joined := 0
	for _, e := range r.ColdStarts {
		joined += len(e.Joined)
	}
	heading := fmt.Sprintf("Cold starts of %s from %s to %s: %d", coldStartSubject(r), at(r.From), at(r.To), r.Count)
	if len(r.ColdStarts) < r.Count {
		heading += fmt.Sprintf(", the newest %d shown", len(r.ColdStarts))
	}
	if joined > 0 {
		heading += fmt.Sprintf("; %s joined them", plural(joined, "more request"))
	}
	fmt.Fprintln(bw, heading)

	if len(r.ColdStarts) > 0 {
		var names []string
		for _, e := range r.ColdStarts {
			for _, p := range e.Phases {
				if !slices.Contains(names, p.Name) {
					names = append(names, p.Name)
				}
			}
		}
		slices.SortFunc(names, comparePhases)
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		// Without a namespace, which one a revision is in says which
		// Service it is: kn shows NAMESPACE first then.
		head := []string{"TIME", "REVISION", "TRACE ID", "JOINED", "TOTAL"}
		if r.Namespace == "" {
			head = append([]string{"NAMESPACE"}, head...)
		}
		for _, n := range names {
			head = append(head, strings.ToUpper(PhaseLabel(n)))
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, e := range r.ColdStarts {
			total := "-"
			if len(e.Phases) > 0 {
				total = millis(e.TotalMicros)
			}
			row := []string{at(e.StartTime), cmp.Or(e.Revision, "-"), e.TraceID, fmt.Sprint(len(e.Joined)), total}
			if r.Namespace == "" {
				row = append([]string{cmp.Or(e.Namespace, "-")}, row...)
			}
			for _, n := range names {
				cell := "-"
				if i := slices.IndexFunc(e.Phases, func(p EpisodePhase) bool { return p.Name == n }); i >= 0 {
					cell = millis(e.Phases[i].DurationMicros)
					if e.Phases[i].ImagePresent {
						cell += " (" + coldstart.ImagePresent + ")"
					}
				}
				row = append(row, cell)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
		fmt.Fprintln(bw, "TOTAL and phases in milliseconds.")

		fmt.Fprintln(bw)
		for _, e := range r.ColdStarts {
			fmt.Fprintf(bw, "%s  %s\n", e.TraceID, e.Summary())
		}

		fmt.Fprintln(bw)
		fmt.Fprintf(bw, "p50 and p95 over the %s (nearest rank):\n", plural(r.Count, "cold start"))
		tw = tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PHASE\tCOLD STARTS\tP50\tP95")
		rows := append([]PhasePercentiles{{Phase: "total", Percentiles: r.Stats.Total}}, r.Stats.Phases...)
		for _, p := range rows {
			if p.Count == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", PhaseLabel(p.Phase), p.Count, FormatColdStartDuration(p.P50Micros), FormatColdStartDuration(p.P95Micros))
		}
		tw.Flush()
	}

	if len(r.Unmatched) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintf(bw, "%s waited for a cold start whose trace is not in the window (it began earlier, or was not kept):\n",
			plural(len(r.Unmatched), "request"))
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tTRACE ID\tWAITED")
		for _, j := range r.Unmatched {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", at(j.StartTime), j.TraceID, FormatColdStartDuration(j.WaitMicros))
		}
		tw.Flush()
	}
	return bw.Flush()
}

func coldStartSubject(r *ColdStartReport) string {
	s := "every Service"
	if r.Service != "" {
		s = r.Service
	}
	if r.Namespace != "" {
		return s + " in namespace " + r.Namespace
	}
	return s + " in every namespace"
}

// millis is a duration in microseconds as whole milliseconds.
func millis(micros int64) string { return fmt.Sprintf("%.0f", math.Round(float64(micros)/1000)) }
