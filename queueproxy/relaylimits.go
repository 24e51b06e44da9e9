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
	"time"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/otlprelay"
	"github.com/kntrace/kntrace/revisions"
)

// relayLimits reads the revision's kntrace.dev/relay-* annotations: the
// relay options they ask for and the drain timeout (0 when not set). A
// value that does not parse is logged and ignored: the webhook refuses it
// at admission, so it only comes from a template written around kntrace,
// and it must never cost the queue-proxy.
func (q *QueueProxy) relayLimits() ([]otlprelay.Option, time.Duration) {
	var opts []otlprelay.Option
	for _, l := range []struct {
		annotation string
		option     func(int) otlprelay.Option
	}{
		{conventions.RelayMaxBytesAnnotation, otlprelay.WithQueueBytes},
		{conventions.RelayMaxRequestBytesAnnotation, otlprelay.WithMaxRequestBytes},
	} {
		v, ok := q.annotations[l.annotation]
		if !ok {
			continue
		}
		n, err := revisions.ParseRelayBytes(l.annotation, v)
		if err != nil {
			q.cfg.logger.Warn("ignoring annotation", "error", err.Error())
			continue
		}
		opts = append(opts, l.option(int(n)))
	}
	v, ok := q.annotations[conventions.RelayDrainTimeoutAnnotation]
	if !ok {
		return opts, 0
	}
	d, err := revisions.ParseRelayDrainTimeout(v)
	if err != nil {
		q.cfg.logger.Warn("ignoring annotation", "error", err.Error())
		return opts, 0
	}
	return opts, d
}
