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

package podstart

import "github.com/kntrace/kntrace/coldstart"

// rememberedReports is how many taken reports a Server remembers, per
// report that may wait, to know a retried post: a post may be retried after
// its report was recorded.
const rememberedReports = 4

// reportKey names one cold start's report: the request's span and the pod
// that answered it.
type reportKey struct{ traceID, spanID, namespace, pod string }

// recentReports remembers the last limit reports added, forgetting the
// oldest.
type recentReports struct {
	limit int
	set   map[reportKey]struct{}
	order []reportKey // a ring once full; next is the oldest
	next  int
}

func newRecentReports(limit int) recentReports {
	return recentReports{limit: max(limit, 1), set: make(map[reportKey]struct{})}
}

func keyOf(r coldstart.Report) reportKey {
	return reportKey{r.TraceID, r.SpanID, r.Namespace, r.Pod}
}

func (k *recentReports) has(r coldstart.Report) bool {
	_, ok := k.set[keyOf(r)]
	return ok
}

func (k *recentReports) add(r coldstart.Report) {
	key := keyOf(r)
	k.set[key] = struct{}{}
	if len(k.order) < k.limit {
		k.order = append(k.order, key)
		return
	}
	delete(k.set, k.order[k.next])
	k.order[k.next] = key
	k.next = (k.next + 1) % k.limit
}
