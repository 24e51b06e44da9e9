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
	"fmt"
	"net"
	"strconv"
	"time"
)

// EnvUserPort is the app's port, which Knative gives its queue-proxy.
const EnvUserPort = "USER_PORT"

// appStopPoll is how often waitAppStopped looks at the app's port.
const appStopPoll = 50 * time.Millisecond

// waitAppStopped returns once nothing listens on the app's port any more
// (127.0.0.1:USER_PORT), or with an error when ctx ends first. Knative
// sends the app SIGTERM only when the queue-proxy's own drain is over (the
// user container's preStop hook waits for it), so an app flushes its spans
// to the relay after Knative's Main has returned: the relay has to outlive
// the app. Without a valid USER_PORT it returns at once.
func (q *QueueProxy) waitAppStopped(ctx context.Context) error {
	port, err := strconv.Atoi(q.cfg.getenv(EnvUserPort))
	if err != nil || port <= 0 || port > 65535 {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d := net.Dialer{Timeout: appStopPoll}
	tick := time.NewTicker(appStopPoll)
	defer tick.Stop()
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
		} else if ctx.Err() == nil {
			return nil // nothing listens: the app has stopped
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the app still listened on %s when the relay's drain time ran out: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}
