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

package appsdk

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// drainOnSignal flushes the spans on SIGTERM for at most grace, then ends
// the process with status 0, as a main that returned would. It does not
// re-raise the signal: an app is PID 1 in its container, where a signal
// with its default action is ignored, and Go then exits with status 2
// after the drain, so every scale-down would end the container in Error.
func (s *SDK) drainOnSignal(grace time.Duration) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	s.stopSignal = make(chan struct{})
	stop := s.stopSignal
	go func() {
		defer signal.Stop(ch)
		select {
		case <-stop:
			return
		case <-ch:
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			_ = s.Shutdown(ctx)
			cancel()
			os.Exit(0)
		}
	}()
}
