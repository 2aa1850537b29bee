package server

// VerifyPulls makes h compute, for every pull it answers incrementally,
// the rescan's answer for the same cookie in the same snapshot, and pass
// every difference to fn.
func VerifyPulls[Ctx any](h *Handler[Ctx], fn func(group, diff string)) { h.verify = fn }
