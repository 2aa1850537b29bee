package server

import "sync/atomic"

// PullStats are a handler's counts of the pulls it answered since
// NewHandler, by how it computed them. They are meant for metrics and
// tests; read them with Handler.PullStats.
type PullStats struct {
	// Unchanged counts pulls answered from the change-log heads and the
	// lastMutationIDs alone, without reading rows.
	Unchanged uint64
	// Incremental counts pulls that read only the rows that changed since
	// the cookie, or that a changed rule input let in or out.
	Incremental uint64
	// Fallbacks counts the pulls that read every row the user may read,
	// by reason: "reset" (the cookie names no view of the group: a new
	// client, a pruned or foreign cookie), "fingerprint" (the schema or
	// the identity changed), "rule" (a read rule the analysis cannot
	// follow, see sync/internal/readrule), "uncaptured"
	// (Options.DisableFastPath: rows change outside the change log),
	// "changes" (more rows changed than an incremental pull reads), and,
	// not for a doubt but for cost, "cheaper" (the change log since the
	// cookie, all users' changes, is longer than twice the group's view:
	// reading the user's rows costs less). Every reason has an entry, 0
	// or not.
	Fallbacks map[string]uint64
	// Changes counts the change-log rows the incremental pulls read, in
	// all: every user's changes since each pull's cookie, but on
	// PostgreSQL only those in a scoped pull's scopes for the tables
	// with a SyncScope (orm.TableOptions).
	Changes uint64
	// Scoped counts the incremental pulls that read a table's changes
	// by its SyncScope.
	Scoped uint64
}

// fallbackReasons are the reasons PullStats counts, in order.
var fallbackReasons = [...]string{fallbackReset, fallbackFingerprint, fallbackRule, fallbackUncaptured, fallbackChanges, fallbackCheaper}

// pullStats holds the counters of PullStats.
type pullStats struct {
	unchanged, incremental atomic.Uint64
	fallbacks              [len(fallbackReasons)]atomic.Uint64
	changes, scoped        atomic.Uint64
}

// count counts a pull that read its rows for reason ("": incrementally).
func (s *pullStats) count(reason string) {
	if reason == "" {
		s.incremental.Add(1)
		return
	}
	for i, r := range fallbackReasons {
		if r == reason {
			s.fallbacks[i].Add(1)
		}
	}
}

// PullStats returns the handler's pull counts.
func (h *Handler[Ctx]) PullStats() PullStats {
	out := PullStats{
		Unchanged:   h.stats.unchanged.Load(),
		Incremental: h.stats.incremental.Load(),
		Fallbacks:   make(map[string]uint64, len(fallbackReasons)),
		Changes:     h.stats.changes.Load(),
		Scoped:      h.stats.scoped.Load(),
	}
	for i, r := range fallbackReasons {
		out.Fallbacks[r] = h.stats.fallbacks[i].Load()
	}
	return out
}
