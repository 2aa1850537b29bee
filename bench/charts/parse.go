package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A Result is one benchmark line of `go test -bench` output: the
// benchmark's name (without the -GOMAXPROCS suffix), the configuration
// lines ("key: value") in force where it appeared, and its measurements
// by unit ("ns/op", "B/op", "pushes/s", ...).
type Result struct {
	Name    string
	Config  map[string]string
	Metrics map[string]float64
}

// procsSuffix is the -GOMAXPROCS suffix go test adds to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// configLine matches a configuration line of the benchmark format: a
// lower-case key, a colon, a value.
var configLine = regexp.MustCompile(`^([a-z][^\s:]*):\s*(.*)$`)

// Parse reads benchmark output in the format benchstat reads
// (golang.org/x/perf/benchfmt): "key: value" configuration lines and
// "BenchmarkName-N iterations value unit [value unit]..." result lines.
// Other lines (PASS, ok, test logs) are skipped. A result line whose
// values do not parse is an error naming the line.
func Parse(r io.Reader, source string) ([]Result, error) {
	var out []Result
	config := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if m := configLine.FindStringSubmatch(text); m != nil {
			config = maps(config)
			config[m[1]] = m[2]
			continue
		}
		if !strings.HasPrefix(text, "Benchmark") {
			continue
		}
		res, ok, err := parseResult(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", source, line, err)
		}
		if ok {
			res.Config = config
			out = append(out, res)
		}
	}
	return out, sc.Err()
}

// maps copies a configuration, so that results keep the one in force
// when they appeared.
func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// parseResult parses one result line. ok is false for a line that only
// starts like one ("BenchmarkX" alone, as -v prints before the result).
func parseResult(text string) (Result, bool, error) {
	f := strings.Fields(text)
	if len(f) < 4 || len(f)%2 != 0 {
		return Result{}, false, nil
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return Result{}, false, nil
	}
	res := Result{Name: procsSuffix.ReplaceAllString(f[0], ""), Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false, fmt.Errorf("value %q of %s: %v", f[i], f[i+1], err)
		}
		res.Metrics[f[i+1]] = v
	}
	return res, true, nil
}

// Median returns the median of the values of unit among results named
// name and matching the configuration filter (every key with that
// value), and how many there were.
func Median(rs []Result, name, unit string, filter map[string]string) (float64, int) {
	var vs []float64
	for _, r := range rs {
		if r.Name != name || !matches(r.Config, filter) {
			continue
		}
		if v, ok := r.Metrics[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, 0
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], n
	}
	return (vs[n/2-1] + vs[n/2]) / 2, n
}

func matches(config, filter map[string]string) bool {
	for k, v := range filter {
		if config[k] != v {
			return false
		}
	}
	return true
}
