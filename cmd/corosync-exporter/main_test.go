package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// series is one gathered sample: its labels and value.
type series struct {
	labels map[string]string
	value  float64
}

// gather scrapes coll once through a registry, as promhttp would, and
// returns the samples by metric name.
func gather(t *testing.T, coll prometheus.Collector) map[string][]series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(coll); err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister(coll)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string][]series{}
	for _, f := range fams {
		for _, m := range f.Metric {
			s := series{labels: map[string]string{}, value: value(m)}
			for _, l := range m.Label {
				s.labels[l.GetName()] = l.GetValue()
			}
			out[f.GetName()] = append(out[f.GetName()], s)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

// find returns the value of the sample of name whose labels include want.
func find(ss map[string][]series, name string, want map[string]string) (float64, bool) {
next:
	for _, s := range ss[name] {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

func slicesSort(d []time.Duration) { slices.Sort(d) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitUp waits until corosync_up has the given value.
func waitUp(t *testing.T, coll *Collector, want float64) map[string][]series {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := gather(t, coll)
		if v, _ := find(got, "corosync_up", nil); v == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("corosync_up never became %v: %v", want, got["corosync_up"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// render returns the samples as sorted "{k=v,...} value" lines, to compare
// sets of series.
func render(ss []series) []string {
	var out []string
	for _, s := range ss {
		var ls []string
		for k, v := range s.labels {
			ls = append(ls, fmt.Sprintf("%s=%q", k, v))
		}
		slices.Sort(ls)
		out = append(out, fmt.Sprintf("{%s} %v", strings.Join(ls, ","), s.value))
	}
	slices.Sort(out)
	return out
}
