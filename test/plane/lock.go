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

package plane

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/kntrace/kntrace/test/proc"
)

// LockPath is the file a running plane holds an exclusive lock on: the
// activator's ports, the service address and the kntrace-pl-* namespaces are
// machine-wide, so one plane runs at a time and the next one waits.
var LockPath = filepath.Join(os.TempDir(), "kntrace-plane.lock")

// acquireLock waits until no other plane holds LockPath, bounded by wait
// and ctx.
func acquireLock(ctx context.Context, wait time.Duration, logf func(string, ...any)) (*proc.MachineLock, error) {
	return proc.LockMachine(ctx, LockPath, "local plane", "one plane runs per machine (fixed activator ports 8012/8013/8008); stop it or wait", wait, logf)
}
