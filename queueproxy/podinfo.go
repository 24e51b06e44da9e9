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
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxAnnotationsFileBytes bounds the annotations file read.
const maxAnnotationsFileBytes = 256 << 10

// ParseAnnotations reads a Kubernetes downward-API annotations file: one
// key="value" per line, the value quoted as Go quotes strings. A line that
// does not parse is an error naming its number; the others are still
// returned.
func ParseAnnotations(data []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(data) > maxAnnotationsFileBytes {
		return out, fmt.Errorf("annotations file: %d bytes, more than %d", len(data), maxAnnotationsFileBytes)
	}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 4096), maxAnnotationsFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("annotations line %d: want key=\"value\"", n))
			continue
		}
		uv, err := strconv.Unquote(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("annotations line %d (%s): value is not a quoted string", n, k))
			continue
		}
		out[k] = uv
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("annotations file: %w", err))
	}
	return out, errors.Join(errs...)
}

// readAnnotations reads the pod's annotations file (Knative mounts it when
// the template asks for features.knative.dev/queueproxy-podinfo); a missing
// file is no annotations.
func (q *QueueProxy) readAnnotations() map[string]string {
	data, err := q.cfg.readFile(q.cfg.podInfo)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			q.cfg.logger.Warn("cannot read the pod's annotations", "path", q.cfg.podInfo, "error", err)
		}
		return map[string]string{}
	}
	a, err := ParseAnnotations(data)
	if err != nil {
		q.cfg.logger.Warn("skipping malformed lines of the pod's annotations", "path", q.cfg.podInfo, "error", err)
	}
	return a
}
