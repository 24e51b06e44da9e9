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

// Command fetchmodules downloads the Go modules whose YAML the tests apply
// (test/manifests.Sets), so that no test reaches the network while it runs.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kntrace/kntrace/test/manifests"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := manifests.Fetch(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fetchmodules:", err)
		os.Exit(1)
	}
}
