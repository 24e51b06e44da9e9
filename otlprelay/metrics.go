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

package otlprelay

import "github.com/kntrace/kntrace/internal/statsobs"

// instrumentationName is the scope of the relay's metrics.
const instrumentationName = "github.com/kntrace/kntrace/otlprelay"

type instrument = statsobs.Instrument[Stats]

// instruments are the relay's metrics, read from one Stats per collection.
var instruments = []instrument{
	{Name: "kntrace.relay.queue.size", Unit: "By", Description: "Bytes of OTLP payloads held by the relay.",
		Value: func(s Stats) int64 { return int64(s.QueuedBytes) }},
	{Name: "kntrace.relay.spans.accepted", Unit: "{span}", Counter: true, Description: "Spans the relay accepted.",
		Value: func(s Stats) int64 { return int64(s.AcceptedSpans) }},
	{Name: "kntrace.relay.spans.forwarded", Unit: "{span}", Counter: true, Description: "Spans the collector accepted from the relay.",
		Value: func(s Stats) int64 { return int64(s.ForwardedSpans) }},
	{Name: "kntrace.relay.spans.dropped", Unit: "{span}", Counter: true, Description: "Spans refused by the collector as invalid or left at shutdown.",
		Value: func(s Stats) int64 { return int64(s.DroppedSpans) }},
	{Name: "kntrace.relay.requests.rejected", Unit: "{request}", Counter: true, Description: "Requests answered with an error (queue full, shutting down, malformed).",
		Value: func(s Stats) int64 { return int64(s.RejectedRequests) }},
	{Name: "kntrace.relay.forward.retries", Unit: "{call}", Counter: true, Description: "Failed forwards, each retried after a backoff.",
		Value: func(s Stats) int64 { return int64(s.Retries) }},
}

func (r *Relay) registerMetrics() {
	reg, err := statsobs.Register(r.cfg.meterProvider.Meter(instrumentationName), r.Stats, instruments...)
	if err != nil {
		r.cfg.logger.Warn("relay metrics unavailable", "error", err)
		return
	}
	r.reg = reg
}
