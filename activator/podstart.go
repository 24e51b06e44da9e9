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

package activator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
)

const (
	// reportQueue bounds the reports waiting to be posted; a full queue drops
	// (and counts) the newest.
	reportQueue = 64
	// reportPatience bounds how long one report is retried after a failure
	// that may pass (podstart unreachable, slow, busy or failing): as long
	// as podstart keeps a report waiting for its records (DefaultWait), so
	// a late report still finds them.
	reportPatience = 30 * time.Second
	// reportTimeout bounds one attempt.
	reportTimeout = 5 * time.Second
)

// reporter posts the activator's cold-start reports to kntrace's podstart
// service in the background: a cold start's request never waits for it.
// A post that fails in a way that may pass is retried, with backoff, for
// reportPatience (podstart takes a report it already has once); a report
// that cannot be posted costs that cold start its Kubernetes phases,
// counted, never a response.
type reporter struct {
	url      string
	client   *http.Client
	queue    chan coldstart.Report
	onErr    func(error)
	backoff  backoff.Policy
	patience time.Duration

	sent, failed, dropped, retries atomic.Uint64
	errOnce                        sync.Once
}

// newReporter returns a reporter posting to base+coldstart.ReportPath, or an
// error naming conventions.EnvPodstart when base is not an http(s) URL.
func newReporter(base string, onErr func(error)) (*reporter, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: want the podstart service's http:// URL, e.g. http://%s.%s.svc.cluster.local:%d",
			conventions.EnvPodstart, base, conventions.PodstartName, conventions.SystemNamespace, conventions.PodstartReportPort)
	}
	return &reporter{
		url:      strings.TrimSuffix(base, "/") + coldstart.ReportPath,
		client:   &http.Client{Timeout: reportTimeout},
		queue:    make(chan coldstart.Report, reportQueue),
		onErr:    onErr,
		backoff:  backoff.Default,
		patience: reportPatience,
	}, nil
}

// Report queues r without blocking (activatorhooks.WithColdStartReports).
func (r *reporter) Report(rep coldstart.Report) {
	select {
	case r.queue <- rep:
	default:
		r.dropped.Add(1)
	}
}

// run posts queued reports until ctx is done.
func (r *reporter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case rep := <-r.queue:
			if err := r.deliver(ctx, rep); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.failed.Add(1)
				r.errOnce.Do(func() { r.onErr(err) })
				continue
			}
			r.sent.Add(1)
		}
	}
}

// deliver posts rep, retrying a failure that may pass until r.patience has
// gone by since the first attempt; it returns the last error.
func (r *reporter) deliver(ctx context.Context, rep coldstart.Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	giveUp := time.Now().Add(r.patience)
	for attempt := 1; ; attempt++ {
		retry, after, err := r.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		wait := max(r.backoff.Delay(attempt, rand.Float64()), after)
		if time.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, r.patience)
		}
		r.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// post makes one attempt. retry says whether a later one may succeed (not
// after a refusal of the report itself: 4xx other than 429), after how long
// podstart asked to wait at least (its Retry-After, else zero).
func (r *reporter) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return true, 0, fmt.Errorf("posting a cold-start report to %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted {
		return false, 0, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err = fmt.Errorf("posting a cold-start report to %s: %s: %s", r.url, resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return false, 0, err
	}
	return true, backoff.RetryAfter(resp.Header, time.Now()), err
}
