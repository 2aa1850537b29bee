// Package bench holds benchmarks that compare plasma with squirrel, bun and
// hand-written database/sql code. It has no library code: run
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// and see README.md for the measured numbers and the goals they are held to.
package bench
