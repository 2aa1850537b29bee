//go:build race

package client_test

// raceEnabled: the race detector instruments all of modernc.org/sqlite
// (pure Go), which makes the convergence test several times slower.
const raceEnabled = true
