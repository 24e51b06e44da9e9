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

// Package envvar reads the numeric environment variables kntrace's
// components take (KNTRACE_* limits and the SDK's OTEL_BSP_* settings):
// unset means "use the default", and a value that is set but invalid is an
// error naming the variable and what it accepts, which callers log once and
// otherwise ignore, because tracing never stops a process from starting.
package envvar

import (
	"fmt"
	"strconv"
	"time"
)

// PositiveInt reads name as an integer above zero. ok is false when name
// is unset or invalid; err is set only when it is invalid.
func PositiveInt(getenv func(string) string, name string) (n int, ok bool, err error) {
	v := getenv(name)
	if v == "" {
		return 0, false, nil
	}
	n, perr := strconv.Atoi(v)
	if perr != nil || n <= 0 {
		return 0, false, fmt.Errorf("%s=%q: want a positive integer; using the default", name, v)
	}
	return n, true, nil
}

// Millis reads name as a positive number of milliseconds.
func Millis(getenv func(string) string, name string) (time.Duration, bool, error) {
	n, ok, err := PositiveInt(getenv, name)
	return time.Duration(n) * time.Millisecond, ok, err
}
