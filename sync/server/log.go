package server

import (
	"context"
	"log/slog"
)

// LogHandler wraps next so that every record logged with the context of
// a push, a pull or a mutation the handler serves carries who it is for:
// "user" and "clientGroup", and inside a mutation "client", "mutationID"
// and "mutator". A mutator that logs with its context,
//
//	slog.InfoContext(ctx, "todo created", "id", a.ID)
//
// on a logger built on LogHandler, gets them without passing them along.
// Options.Logger is wrapped in it by the handler, so the handler's own
// records carry them too. Records logged with any other context pass
// through unchanged.
func LogHandler(next slog.Handler) slog.Handler {
	if lh, ok := next.(*logHandler); ok {
		return lh
	}
	return &logHandler{next: next}
}

type logHandler struct{ next slog.Handler }

func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ev := eventFrom(ctx); ev != nil {
		r = r.Clone()
		r.AddAttrs(eventAttrs(ev)...)
	}
	return l.next.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{next: l.next.WithAttrs(attrs)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: l.next.WithGroup(name)}
}

// eventAttrs are the attributes LogHandler adds for ev.
func eventAttrs(ev *Event) []slog.Attr {
	attrs := make([]slog.Attr, 0, 5)
	if ev.UserID != "" {
		attrs = append(attrs, slog.String("user", ev.UserID))
	}
	if ev.ClientGroupID != "" {
		attrs = append(attrs, slog.String("clientGroup", ev.ClientGroupID))
	}
	if ev.Kind == EventMutation {
		attrs = append(attrs, slog.String("client", ev.ClientID), slog.Int64("mutationID", ev.MutationID),
			slog.String("mutator", ev.Mutator))
	}
	return attrs
}

// logError logs an error the handler reports: a warning, or an error for
// a 5xx. The request's user and group come from the context (LogHandler)
// or, outside a request, from e.
func (h *Handler[Ctx]) logError(ctx context.Context, e *Error) {
	level := slog.LevelWarn
	if e.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("kind", string(e.Kind)), slog.Int("status", e.Status)}
	if e.Endpoint != "" {
		attrs = append(attrs, slog.String("endpoint", e.Endpoint))
	}
	if eventFrom(ctx) == nil {
		if e.UserID != "" {
			attrs = append(attrs, slog.String("user", e.UserID))
		}
		if e.ClientGroupID != "" {
			attrs = append(attrs, slog.String("clientGroup", e.ClientGroupID))
		}
	}
	if e.Mutator != "" {
		attrs = append(attrs, slog.String("client", e.ClientID), slog.Int64("mutationID", e.MutationID),
			slog.String("mutator", e.Mutator))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	h.log.LogAttrs(ctx, level, "plasma sync: "+string(e.Kind), attrs...)
}
