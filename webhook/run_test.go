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

package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/leakcheck"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/webhook"
)

// TestRunStopsCleanly runs the webhook in-process: it converges, and when
// its context ends it returns nil and leaves no goroutine behind.
func TestRunStopsCleanly(t *testing.T) {
	srv := apiserver.StartForTest(t)
	if _, err := startCluster(t, srv, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SYSTEM_NAMESPACE", conventions.SystemNamespace)
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- webhook.Run(ctx, srv.Config, webhook.WithAddress("127.0.0.1:0"), webhook.WithLogger(zap.NewNop().Sugar()), webhook.WithGracePeriod(100*time.Millisecond))
	}()
	waitFor(t, 30*time.Second, "in-process controller converged serving", func(ctx context.Context) error {
		cm, err := srv.Client.CoreV1().ConfigMaps(configmaps.ServingNamespace).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data[configmaps.ProtocolKey] != "grpc" {
			return errors.New("not converged yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after its context ended, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of its context ending")
	}
	// client-go's connection pools outlive a client; the API server
	// connection is shared with the test's own clients.
	goleak.VerifyNone(t, append(leakcheck.KnativeProcess(), before)...)
}

func TestRunNeedsSystemNamespace(t *testing.T) {
	t.Setenv("SYSTEM_NAMESPACE", "")
	err := webhook.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "SYSTEM_NAMESPACE") {
		t.Fatalf("Run without SYSTEM_NAMESPACE: %v, want an error naming it", err)
	}
}
