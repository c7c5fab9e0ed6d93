package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// requireTool returns the path of a program the test needs; without it the
// test is skipped loudly, or fails under COROSYNC_GO_INTEGRATION=require.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	why := name + " not found (Debian package " + pkg + "; run ./scripts/install-deps.sh)"
	if os.Getenv("COROSYNC_GO_INTEGRATION") == "require" {
		t.Fatalf("TEST CANNOT RUN: %s (COROSYNC_GO_INTEGRATION=require)", why)
	}
	t.Skipf("\n*** TEST SKIPPED: %s ***", why)
	return ""
}

// The alert rules pass promtool check rules and their unit tests
// (monitoring/alerts_test.yml; make monitoring runs the same).
func TestAlertRulesPromtool(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "monitoring"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

// dashboardQueries returns every panel query of monitoring/dashboard.json
// (title: expr) and its variables' label_values selectors, with Grafana's
// variables replaced for Prometheus: $job and $instance by ".+" (their
// "All"), $__rate_interval by rate.
func dashboardQueries(t *testing.T, rate string) (map[string]string, []string) {
	t.Helper()
	b, err := os.ReadFile("monitoring/dashboard.json")
	must(t, err)
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	subst := strings.NewReplacer("$job", ".+", "$instance", ".+", "$__rate_interval", rate)
	exprs := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the dashboard's datasource variable", p.Title)
			}
			for i, tg := range p.Targets {
				if strings.Contains(subst.Replace(tg.Expr), "$") {
					t.Errorf("panel %q: unknown variable in %q", p.Title, tg.Expr)
				}
				exprs[p.Title+"#"+string(rune('A'+i))] = subst.Replace(tg.Expr)
			}
		}
	}
	walk(d.Panels)
	var vars []string
	lv := regexp.MustCompile(`^label_values\((.+), \w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := lv.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		vars = append(vars, subst.Replace(m[1]))
	}
	return exprs, vars
}

// The dashboard parses, every panel has a query on the datasource
// variable, and between them the queries use every ha_cluster_exporter
// corosync metric.
func TestDashboardJSON(t *testing.T) {
	exprs, vars := dashboardQueries(t, "1m")
	if len(exprs) < 20 || len(vars) != 2 {
		t.Fatalf("%d queries, %d variables", len(exprs), len(vars))
	}
	all := ""
	for _, e := range exprs {
		all += e + "\n"
	}
	for _, m := range haClusterExporterMetrics {
		if !strings.Contains(all, m.name+"{") {
			t.Errorf("no panel shows %s", m.name)
		}
	}
}
