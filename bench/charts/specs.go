package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A spec builds one chart from the results, or reports that they hold
// none of its benchmarks.
type spec func(rs []Result) (*Chart, bool)

// specs are the charts this program draws, in the order it writes them.
var specs = []spec{buildSelectChart, postgresPairedChart, syncChart, pushersChart, fanoutChart}

// machine describes where results named with one of prefixes ran: the CPU, the
// load averages recorded with them ("load:" lines) and the runs per
// benchmark.
func machine(rs []Result, prefixes ...string) string {
	var cpus, loads []string
	runs := map[string]int{} // by benchmark and connection count
	for _, r := range rs {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(r.Name, p) }) {
			continue
		}
		runs[r.Name+"\x00"+r.Config["conns"]]++
		if c := r.Config["cpu"]; c != "" && !slices.Contains(cpus, c) {
			cpus = append(cpus, c)
		}
		if l := r.Config["load"]; l != "" && !slices.Contains(loads, l) {
			loads = append(loads, l)
		}
	}
	n := 0
	for _, c := range runs {
		n = max(n, c)
	}
	parts := []string{fmt.Sprintf("median of %d run%s", n, plural(n))}
	if len(cpus) > 0 {
		parts = append(parts, strings.Join(cpus, ", "))
	}
	if len(loads) > 0 {
		parts = append(parts, "load avg "+strings.Join(loads, "; "))
	}
	return strings.Join(parts, " · ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// present returns the names of want that some result has, in want's order.
func present(rs []Result, prefix string, want []string) []string {
	var out []string
	for _, w := range want {
		if slices.ContainsFunc(rs, func(r Result) bool { return r.Name == prefix+w }) {
			out = append(out, w)
		}
	}
	return out
}

// buildSelectChart: BenchmarkBuildSelect, the time to build and render one
// SELECT, plasma against squirrel, bun and hand-written SQL.
func buildSelectChart(rs []Result) (*Chart, bool) {
	const p = "BenchmarkBuildSelect/"
	names := present(rs, p, []string{"handwritten", "plasma_prepared", "plasma", "bun", "squirrel"})
	if !slices.Contains(names, "plasma") {
		return nil, false
	}
	c := &Chart{File: "buildselect.svg", Title: "Building a SELECT: plasma, bun, squirrel, hand-written",
		Unit: "ns per statement built and rendered", Series: []string{"ns/op"}, Log: true}
	plasma, _ := Median(rs, p+"plasma", "ns/op", nil)
	var ratios []string
	for _, n := range names {
		ns, _ := Median(rs, p+n, "ns/op", nil)
		allocs, ok := medianOK(rs, p+n, "allocs/op")
		label := formatValue(ns) + " ns"
		if ok {
			label += fmt.Sprintf(", %s allocs", formatValue(allocs))
		}
		c.Groups = append(c.Groups, n)
		c.Values = append(c.Values, []float64{ns})
		c.Labels = append(c.Labels, []string{label})
		if n == "bun" || n == "squirrel" {
			ratios = append(ratios, fmt.Sprintf("%s takes %.1f× plasma's time", n, ns/plasma))
		}
	}
	c.Subtitle = "SELECT … WHERE 3 predicates ORDER BY … LIMIT; " + strings.Join(ratios, ", ") + "\n" + machine(rs, p)
	return c, true
}

func medianOK(rs []Result, name, unit string) (float64, bool) {
	v, n := Median(rs, name, unit, nil)
	return v, n > 0
}

// postgresPairedChart: BenchmarkPostgresPaired, plasma's time over raw
// database/sql's on the same table, per operation and driver.
func postgresPairedChart(rs []Result) (*Chart, bool) {
	const p = "BenchmarkPostgresPaired/"
	ops := []string{"Insert", "InsertMulti", "Update", "Read", "ReadSlice"}
	var drivers []string
	for _, r := range rs {
		if rest, ok := strings.CutPrefix(r.Name, p); ok {
			if d, _, ok := strings.Cut(rest, "/"); ok && !slices.Contains(drivers, d) {
				drivers = append(drivers, d)
			}
		}
	}
	if len(drivers) == 0 {
		return nil, false
	}
	c := &Chart{File: "postgres_paired.svg", Title: "PostgreSQL: plasma's time over raw database/sql's",
		Unit: "plasma time / raw time", Series: drivers, Ref: 1, RefLabel: "raw database/sql = 1"}
	for _, op := range ops {
		row := make([]float64, len(drivers))
		for i, d := range drivers {
			row[i] = math.NaN()
			if v, ok := medianOK(rs, p+d+"/"+op, "plasma/raw"); ok {
				row[i] = v
			}
		}
		c.Groups = append(c.Groups, op)
		c.Values = append(c.Values, row)
	}
	c.Subtitle = "each iteration runs plasma and raw on the same table, alternating; below 1 is faster\n" + machine(rs, p)
	return c, true
}

// syncChart: BenchmarkPush and BenchmarkPull, plasma's sync handler
// against hand-written database/sql doing the same database work.
func syncChart(rs []Result) (*Chart, bool) {
	groups := []struct{ name, label string }{
		{"BenchmarkPush/", "push of 100 mutations"},
		{"BenchmarkPull/", "first pull of 10,002 rows"},
	}
	c := &Chart{File: "sync.svg", Title: "Sync on SQLite: plasma's handler vs hand-written database/sql",
		Unit: "ms per push or pull", Series: []string{"plasma", "raw"}}
	for _, g := range groups {
		pl, okP := medianOK(rs, g.name+"plasma", "ns/op")
		raw, okR := medianOK(rs, g.name+"raw", "ns/op")
		if !okP && !okR {
			continue
		}
		row, labels := []float64{math.NaN(), math.NaN()}, []string{"", ""}
		if okP {
			row[0], labels[0] = pl/1e6, formatValue(pl/1e6)+" ms"
		}
		if okR {
			row[1], labels[1] = raw/1e6, formatValue(raw/1e6)+" ms"
		}
		if okP && okR {
			labels[0] += fmt.Sprintf(" (%.2f×)", pl/raw)
		}
		c.Groups = append(c.Groups, g.label)
		c.Values = append(c.Values, row)
		c.Labels = append(c.Labels, labels)
	}
	if len(c.Groups) == 0 {
		return nil, false
	}
	c.Subtitle = "raw: the same rows written or read with database/sql, no decoding or auth; (×): plasma / raw\n" +
		machine(rs, "BenchmarkPush/", "BenchmarkPull/")
	return c, true
}

// pushersChart: BenchmarkPushers, pushes per second with 64 concurrent
// pushers.
func pushersChart(rs []Result) (*Chart, bool) {
	const p = "BenchmarkPushers/mutations="
	c := &Chart{File: "pushers.svg", Title: "64 concurrent pushers on one SQLite database",
		Unit: "pushes per second", Series: []string{"pushes/s"}}
	for _, n := range []string{"1", "50"} {
		v, ok := medianOK(rs, p+n, "pushes/s")
		if !ok {
			continue
		}
		per, _ := strconv.Atoi(n)
		fivexx, _ := medianOK(rs, p+n, "5xx")
		c.Groups = append(c.Groups, n+" mutation"+plural(per)+" per push")
		c.Values = append(c.Values, []float64{v})
		c.Labels = append(c.Labels, []string{fmt.Sprintf("%s/s (%s mutations/s), %s 5xx", formatValue(v), formatValue(v*float64(per)), formatValue(fivexx))})
	}
	if len(c.Groups) == 0 {
		return nil, false
	}
	c.Subtitle = "each pusher pushes as soon as its previous push is answered\n" + machine(rs, "BenchmarkPushers/")
	return c, true
}

// fanoutChart: BenchmarkFanout, the time from a push's commit to each
// connection's poke, by connection count (the "conns:" configuration
// line of each output file).
func fanoutChart(rs []Result) (*Chart, bool) {
	var conns []int
	for _, r := range rs {
		if !strings.HasPrefix(r.Name, "BenchmarkFanout/") {
			continue
		}
		n, err := strconv.Atoi(r.Config["conns"])
		if err == nil && !slices.Contains(conns, n) {
			conns = append(conns, n)
		}
	}
	if len(conns) == 0 {
		return nil, false
	}
	slices.Sort(conns)
	type series struct{ name, bench, unit string }
	all := []series{
		{"one user, p50", "one_user", "p50-ms"}, {"one user, p99", "one_user", "p99-ms"},
		{"distinct users, p50", "distinct_users", "p50-ms"}, {"distinct users, p99", "distinct_users", "p99-ms"},
	}
	c := &Chart{File: "fanout.svg", Title: "Poke latency by connection count (WebSocket, loopback)",
		Unit: "ms from the push's commit to the poke received"}
	for _, s := range all {
		c.Series = append(c.Series, s.name)
	}
	for _, n := range conns {
		row := make([]float64, len(all))
		filter := map[string]string{"conns": strconv.Itoa(n)}
		for i, s := range all {
			row[i] = math.NaN()
			if v, k := Median(rs, "BenchmarkFanout/"+s.bench, s.unit, filter); k > 0 {
				row[i] = v
			}
		}
		c.Groups = append(c.Groups, fmt.Sprintf("%d connections", n))
		c.Values = append(c.Values, row)
	}
	c.Subtitle = "every connection may read the new row; clients in a child process; SQLite\n" + machine(rs, "BenchmarkFanout/")
	return c, true
}
