//go:build race

package changelog_test

// raceEnabled scales the concurrency test down under the race detector,
// which slows every database round trip several times over.
const raceEnabled = true
