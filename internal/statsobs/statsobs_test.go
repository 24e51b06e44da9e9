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

package statsobs

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestRegisterObservesOneSnapshot(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	type stats struct{ held, total int64 }
	calls := 0
	reg, err := Register(mp.Meter("test"), func() stats { calls++; return stats{held: 3, total: 10} },
		Instrument[stats]{Name: "held", Unit: "{span}", Value: func(s stats) int64 { return s.held }},
		Instrument[stats]{Name: "total", Unit: "{span}", Counter: true, Value: func(s stats) int64 { return s.total }})
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				got[m.Name+" gauge"] = d.DataPoints[0].Value
			case metricdata.Sum[int64]:
				got[m.Name+" sum"] = d.DataPoints[0].Value
			}
		}
	}
	if diff := cmp.Diff(map[string]int64{"held gauge": 3, "total sum": 10}, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if calls != 1 {
		t.Errorf("snapshot taken %d times in one collection, want 1", calls)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
}
