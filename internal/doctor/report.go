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

package doctor

import (
	"fmt"
)

// Status is the outcome of one doctor check.
type Status string

// Check outcomes.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Check is one line of `kn trace doctor`.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Report is what `kn trace doctor -o json|yaml` prints.
type Report struct {
	Checks   []Check `json:"checks"`
	Passed   int     `json:"passed"`
	Warnings int     `json:"warnings"`
	Failures int     `json:"failures"`
}

func (r *Report) add(name string, st Status, fix string, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Status: st, Message: fmt.Sprintf(format, args...), Fix: fix})
	switch st {
	case StatusPass:
		r.Passed++
	case StatusWarn:
		r.Warnings++
	case StatusFail:
		r.Failures++
	}
}
