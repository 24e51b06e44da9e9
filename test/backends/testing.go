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

package backends

import (
	"context"
	"testing"
)

// Start starts a Stack for a test (Jaeger and, if startCollector, the
// Collector), failing the test with a hint to run `make tools` when a binary is
// missing, and stops everything when the test ends.
func Start(tb testing.TB, startCollector bool, opts ...Option) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultJaegerReadyTimeout+DefaultCollectorReadyTimeout)
	defer cancel()
	s, err := StartStack(ctx, startCollector, append([]Option{WithLogDir(tb.TempDir())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}
