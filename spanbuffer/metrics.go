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

package spanbuffer

import "github.com/kntrace/kntrace/internal/statsobs"

// instrumentationName is the scope of the buffer's metrics.
const instrumentationName = "github.com/kntrace/kntrace/spanbuffer"

type instrument = statsobs.Instrument[Stats]

// instruments are the buffer's metrics, read from one Stats per collection.
var instruments = []instrument{
	{Name: "kntrace.buffer.spans", Unit: "{span}", Description: "Spans held by the span buffer, including the batch being exported.",
		Value: func(s Stats) int64 { return int64(s.Buffered) }},
	{Name: "kntrace.buffer.size", Unit: "By", Description: "Estimated size of the spans held by the span buffer.",
		Value: func(s Stats) int64 { return int64(s.Bytes) }},
	{Name: "kntrace.buffer.spans.received", Unit: "{span}", Counter: true, Description: "Sampled spans handed to the span buffer.",
		Value: func(s Stats) int64 { return int64(s.Received) }},
	{Name: "kntrace.buffer.spans.exported", Unit: "{span}", Counter: true, Description: "Spans the exporter accepted.",
		Value: func(s Stats) int64 { return int64(s.Exported) }},
	{Name: "kntrace.buffer.spans.dropped", Unit: "{span}", Counter: true, Description: "Spans dropped because the buffer was full (oldest first) or left at shutdown.",
		Value: func(s Stats) int64 { return int64(s.Dropped) }},
	{Name: "kntrace.buffer.export.retries", Unit: "{call}", Counter: true, Description: "Failed export calls, each retried after a backoff.",
		Value: func(s Stats) int64 { return int64(s.Retries) }},
}

func (b *Buffer) registerMetrics() {
	reg, err := statsobs.Register(b.cfg.meterProvider.Meter(instrumentationName), b.Stats, instruments...)
	if err != nil {
		b.cfg.logger.Warn("span buffer metrics unavailable", "error", err)
		return
	}
	b.reg = reg
}
