//go:build race

package files_test

// raceEnabled: the race detector allows at most 8128 live goroutines and
// slows each upload many times over, so the 10,000-upload test runs 2,000.
const raceEnabled = true
