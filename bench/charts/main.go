// Command charts draws the SVG bar charts of bench/README.md from
// `go test -bench` output (the text benchstat reads):
//
//	go run ./bench/charts -o bench/charts/ bench/testdata/charts/*.txt
//
// It reads every file named, and writes each chart whose benchmarks it
// found: buildselect.svg (BenchmarkBuildSelect), postgres_paired.svg
// (BenchmarkPostgresPaired), sync.svg (BenchmarkPush and BenchmarkPull),
// pushers.svg (BenchmarkPushers) and fanout.svg (BenchmarkFanout, one file
// per connection count, each with a "conns: N" line). Each chart shows the
// median of the runs, and the CPU and the load averages the files record
// ("cpu:" and "load:" lines).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("charts", flag.ContinueOnError)
	out := fs.String("o", ".", "directory to write the SVG files to")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: charts [-o DIR] FILE...   (go test -bench output)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no input files")
	}
	var rs []Result
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		r, err := Parse(f, name)
		f.Close()
		if err != nil {
			return err
		}
		rs = append(rs, r...)
	}
	charts, err := Build(rs)
	if err != nil {
		return err
	}
	for _, c := range charts {
		var b bytes.Buffer
		if err := c.Render(&b); err != nil {
			return err
		}
		path := filepath.Join(*out, c.File)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote", path)
	}
	return nil
}

// Build returns the charts the results have benchmarks for.
func Build(rs []Result) ([]*Chart, error) {
	var out []*Chart
	for _, s := range specs {
		if c, ok := s(rs); ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no benchmark of any chart in the input")
	}
	return out, nil
}
