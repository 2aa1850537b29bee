package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
cpu: Test CPU
load: 1.00 2.00 3.00
pkg: github.com/plasma-go/plasma/bench
BenchmarkBuildSelect/plasma-2   	 2000000	       600 ns/op	     416 B/op	       5 allocs/op
BenchmarkBuildSelect/plasma-2   	 2000000	       500 ns/op	     416 B/op	       5 allocs/op
BenchmarkBuildSelect/plasma-2   	 2000000	       700 ns/op	     416 B/op	       5 allocs/op
BenchmarkBuildSelect/squirrel-2 	  200000	      6000 ns/op	    5928 B/op	     107 allocs/op
--- BENCH: BenchmarkBuildSelect/squirrel-2
    bench_test.go:1: a log line
BenchmarkPostgresPaired/pq/Read-2 	 300	 40000 ns/op	 20000 plasma-ns/op	 1.10 plasma/raw	 18000 raw-ns/op
BenchmarkPostgresPaired/pq/Read-2 	 300	 40000 ns/op	 20000 plasma-ns/op	 0.90 plasma/raw	 22000 raw-ns/op
conns: 100
BenchmarkFanout/one_user-2 	 1	 10000000 ns/op	 6.0 p50-ms	 7.0 p99-ms
conns: 1000
BenchmarkFanout/one_user-2 	 1	 20000000 ns/op	 16.0 p50-ms	 30.0 p99-ms
PASS
ok  	github.com/plasma-go/plasma/bench	1.0s
`

func TestParse(t *testing.T) {
	rs, err := Parse(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 8 {
		t.Fatalf("got %d results, want 8", len(rs))
	}
	if rs[0].Name != "BenchmarkBuildSelect/plasma" || rs[0].Config["cpu"] != "Test CPU" || rs[0].Metrics["allocs/op"] != 5 {
		t.Errorf("first result = %+v", rs[0])
	}
	if m, n := Median(rs, "BenchmarkBuildSelect/plasma", "ns/op", nil); m != 600 || n != 3 {
		t.Errorf("median = %v of %d, want 600 of 3", m, n)
	}
	if m, n := Median(rs, "BenchmarkPostgresPaired/pq/Read", "plasma/raw", nil); math.Abs(m-1.0) > 1e-9 || n != 2 {
		t.Errorf("even median = %v of %d, want 1.0 of 2", m, n)
	}
	if m, _ := Median(rs, "BenchmarkFanout/one_user", "p99-ms", map[string]string{"conns": "1000"}); m != 30 {
		t.Errorf("fan-out p99 at 1000 = %v, want 30 (config lines must apply to the results after them)", m)
	}
	if _, n := Median(rs, "BenchmarkNope", "ns/op", nil); n != 0 {
		t.Errorf("median of nothing counted %d", n)
	}
}

func TestParseRefusesBadValues(t *testing.T) {
	for _, bad := range []string{
		"BenchmarkX-2 10 abc ns/op",
		"BenchmarkX-2 10 1e999999 ns/op",
	} {
		if _, err := Parse(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
	// Lines that only look like results are skipped, not errors.
	for _, skip := range []string{"BenchmarkX", "BenchmarkX-2 notanumber 1 ns/op", "BenchmarkX-2 10 1"} {
		rs, err := Parse(strings.NewReader(skip), "skip")
		if err != nil || len(rs) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want nothing", skip, rs, err)
		}
	}
}

// TestRender draws every chart of the sample and checks the SVG is
// well-formed XML with a bar per value and its labels escaped.
func TestRender(t *testing.T) {
	rs, err := Parse(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	charts, err := Build(rs)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, c := range charts {
		files[c.File] = true
		var b bytes.Buffer
		if err := c.Render(&b); err != nil {
			t.Fatal(err)
		}
		bars := wellFormed(t, c.File, b.Bytes())
		want := 0
		for _, row := range c.Values {
			for _, v := range row {
				if !math.IsNaN(v) {
					want++
				}
			}
		}
		if bars != want {
			t.Errorf("%s: %d bars, want %d", c.File, bars, want)
		}
		if !strings.Contains(b.String(), esc(c.Title)) {
			t.Errorf("%s: title missing", c.File)
		}
	}
	for _, f := range []string{"buildselect.svg", "postgres_paired.svg", "fanout.svg"} {
		if !files[f] {
			t.Errorf("no %s from the sample", f)
		}
	}
	if files["sync.svg"] || files["pushers.svg"] {
		t.Errorf("charts without data were drawn: %v", files)
	}

	hostile := &Chart{File: "x.svg", Title: `<script>&"`, Groups: []string{"</svg>"}, Series: []string{"a"}, Values: [][]float64{{1}}}
	var b bytes.Buffer
	if err := hostile.Render(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, "hostile", b.Bytes())
}

// wellFormed decodes an SVG and returns the number of bars (rects with a
// title) in it.
func wellFormed(t *testing.T, name string, svg []byte) int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	bars, inRect := 0, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return bars
		}
		if err != nil {
			t.Fatalf("%s: not well-formed: %v", name, err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "rect":
				inRect = true
			case "title":
				if inRect {
					bars++
				}
			}
		case xml.EndElement:
			if e.Name.Local == "rect" {
				inRect = false
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for name, c := range map[string]*Chart{
		"empty":    {File: "e"},
		"ragged":   {File: "r", Groups: []string{"a"}, Series: []string{"x", "y"}, Values: [][]float64{{1}}},
		"negative": {File: "n", Groups: []string{"a"}, Series: []string{"x"}, Values: [][]float64{{-1}}},
		"log zero": {File: "z", Groups: []string{"a"}, Series: []string{"x"}, Values: [][]float64{{0}}, Log: true},
		"all NaN":  {File: "m", Groups: []string{"a"}, Series: []string{"x"}, Values: [][]float64{{math.NaN()}}},
		"infinite": {File: "i", Groups: []string{"a"}, Series: []string{"x"}, Values: [][]float64{{math.Inf(1)}}},
	} {
		if err := c.Render(io.Discard); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.885: "0.885", 1: "1", 1.5: "1.5", 12.34: "12.3", 583.6: "584", 17584: "17.6k", 2_500_000: "2.5M",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestCommittedCharts checks that the SVGs in this folder are what the
// committed benchmark output (../testdata/charts/*.txt) draws: regenerate them
// with go run ./bench/charts -o bench/charts/ bench/testdata/charts/*.txt.
func TestCommittedCharts(t *testing.T) {
	inputs, err := filepath.Glob("../testdata/charts/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	for _, in := range inputs {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(f, in)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r...)
	}
	charts, err := Build(rs)
	if err != nil {
		t.Skipf("no chart data in ../testdata/charts: %v", err)
	}
	for _, c := range charts {
		var b bytes.Buffer
		if err := c.Render(&b); err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(c.File)
		if err != nil || !bytes.Equal(have, b.Bytes()) {
			t.Errorf("%s is not what bench/testdata/charts draws (%v): run go run ./bench/charts -o bench/charts/ bench/testdata/charts/*.txt", c.File, err)
		}
	}
}
