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

package queueproxy

import (
	"context"
	"strconv"
	"time"

	"knative.dev/serving/pkg/queue/readiness"
)

// watchReadiness probes the user container as the queue-proxy's readiness
// probe does (SERVING_READINESS_PROBE) until the first success, which is
// the timeline's app-ready moment. Without a probe the app counts as ready
// at once, as upstream's queue-proxy reports it.
func (q *QueueProxy) watchReadiness(ctx context.Context) {
	enc := q.cfg.getenv("SERVING_READINESS_PROBE")
	if enc == "" {
		q.timeline.MarkReady()
		return
	}
	multi, _ := strconv.ParseBool(q.cfg.getenv("ENABLE_MULTI_CONTAINER_PROBES"))
	probes, err := readiness.DecodeProbes(enc, multi)
	if err != nil {
		q.cfg.logger.Warn("cannot decode the readiness probe; the cold-start span will not know when the app became ready", "error", err)
		return
	}
	var probe *readiness.Probe
	if h2, _ := strconv.ParseBool(q.cfg.getenv("ENABLE_HTTP2_AUTO_DETECTION")); h2 {
		probe = readiness.NewProbeWithHTTP2AutoDetection(probes)
	} else {
		probe = readiness.NewProbe(probes)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if probe.ProbeContainer() {
			q.timeline.MarkReady()
			return
		}
		t.Reset(q.cfg.probePeriod)
	}
}
