package server

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/protocol"
)

// devtoolsAssets are the page, its script and its style sheet: plain
// files, no build step.
//
//go:embed devtools/index.html devtools/app.js devtools/app.css
var devtoolsAssets embed.FS

// The limits of the devtools API.
const (
	// maxDevtoolsBody caps a command's body.
	maxDevtoolsBody = 4 << 10
	// The snapshot's list sizes: the default and the most a request may
	// ask for with ?groups= and ?changes=.
	defaultDevtoolsGroups  = 100
	maxDevtoolsGroups      = 1000
	defaultDevtoolsChanges = 50
	maxDevtoolsChanges     = 500
	// maxDevtoolsClients caps the clients a snapshot lists in all.
	maxDevtoolsClients = 10000
	// maxDevtoolsConns caps the WebSocket connections a snapshot lists.
	maxDevtoolsConns = 1000
)

// RealtimeInspector is implemented by a Notifier the devtools can look
// into and act on: *realtime.Hub is one. Without it the devtools show no
// connections or rooms and cannot disconnect a group.
type RealtimeInspector interface {
	// DevtoolsRealtime lists up to max connections, and the rooms.
	DevtoolsRealtime(max int) protocol.DevtoolsRealtime
	// DisconnectGroup closes the connections of a client group and
	// returns how many it closed.
	DisconnectGroup(group string) int
}

// DevtoolsHandler returns the handler of the devtools page and API, for
// applications that mount each endpoint on its own pattern. It serves
// the paths under {BasePath}/devtools, so mount it there:
//
//	mux.Handle("/sync/devtools", h.DevtoolsHandler())
//	mux.Handle("/sync/devtools/", h.DevtoolsHandler())
//
// Without Options.Devtools it answers 404, as ServeHTTP does.
func (h *Handler[Ctx]) DevtoolsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, h.opts.BasePath)
		if !ok || !isDevtoolsPath(rest) {
			http.NotFound(w, r)
			return
		}
		h.serveDevtools(w, r, rest)
	})
}

func isDevtoolsPath(rest string) bool {
	return rest == "/devtools" || strings.HasPrefix(rest, "/devtools/")
}

// serveDevtools serves rest, a path under {BasePath}: /devtools and
// below. The checks come first, in this order: the option is on (else
// 404, as if nothing were there), the browser's origin is the page's
// own or listed (else 403), Admin accepts the request (else 403).
func (h *Handler[Ctx]) serveDevtools(w http.ResponseWriter, r *http.Request, rest string) {
	if h.dev == nil {
		http.NotFound(w, r)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.report(r.Context(), &Error{Kind: KindInternal, Endpoint: "devtools", Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())})
			devtoolsFail(w, http.StatusInternalServerError, "Internal", "")
		}
	}()
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	origin := r.Header.Get("Origin")
	if origin != "" {
		hd.Add("Vary", "Origin")
		if !h.dev.originAllowed(r, origin) {
			devtoolsFail(w, http.StatusForbidden, "Forbidden", "origin not allowed")
			return
		}
		if !sameOrigin(r, origin) {
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			if r.Method == http.MethodOptions { // a preflight carries no credentials
				hd.Set("Access-Control-Allow-Methods", "GET, POST")
				hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				hd.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
	}
	// The script and the style sheet hold no data: they are served
	// without Admin's check, so that a page authenticated by a query
	// parameter (the demo's token) loads them by their plain links.
	switch rest {
	case "/devtools/app.js":
		h.serveAsset(w, r, "app.js", "text/javascript; charset=utf-8")
		return
	case "/devtools/app.css":
		h.serveAsset(w, r, "app.css", "text/css; charset=utf-8")
		return
	}
	if !h.opts.Devtools.Admin(r) {
		devtoolsFail(w, http.StatusForbidden, "Forbidden", "not an admin")
		return
	}
	switch rest {
	case "/devtools":
		// The page's relative links need the trailing slash.
		u := *r.URL
		u.Path += "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
	case "/devtools/":
		h.serveAsset(w, r, "index.html", "text/html; charset=utf-8")
	case "/devtools/api/snapshot":
		if !allowMethod(w, r, http.MethodGet) {
			return
		}
		h.serveSnapshot(w, r)
	case "/devtools/api/command":
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		h.serveCommand(w, r)
	default:
		devtoolsFail(w, http.StatusNotFound, "NotFound", "no such devtools path")
	}
}

// originAllowed reports whether a browser on origin may use the
// devtools: the page's own origin, or one of Options.Devtools.Origins.
func (d *devtools) originAllowed(r *http.Request, origin string) bool {
	return sameOrigin(r, origin) || d.origins[strings.TrimSuffix(origin, "/")]
}

// sameOrigin reports whether origin is the request's own: same host
// (with port). The scheme is not compared: behind a TLS-terminating
// proxy the request arrives over plain HTTP.
func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || method == http.MethodGet && r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", method)
	devtoolsFail(w, http.StatusMethodNotAllowed, "BadRequest", "method "+r.Method+"; want "+method)
	return false
}

func (h *Handler[Ctx]) serveAsset(w http.ResponseWriter, r *http.Request, name, ctype string) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	b, err := devtoolsAssets.ReadFile("devtools/" + name)
	if err != nil {
		devtoolsFail(w, http.StatusInternalServerError, "Internal", "")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// devtoolsFail answers a devtools request with an error message.
func devtoolsFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, protocol.DevtoolsError{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeError, Error: code, Message: msg})
}

// serveSnapshot answers GET …/api/snapshot[?groups=N&changes=M].
func (h *Handler[Ctx]) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	groups, err := queryInt(q, "groups", defaultDevtoolsGroups, maxDevtoolsGroups)
	if err != nil {
		devtoolsFail(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	changes, err := queryInt(q, "changes", defaultDevtoolsChanges, maxDevtoolsChanges)
	if err != nil {
		devtoolsFail(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	snap, err := h.devtoolsSnapshot(r.Context(), groups, changes)
	if err != nil {
		h.report(r.Context(), &Error{Kind: internal(err), Endpoint: "devtools", Err: err})
		devtoolsFail(w, http.StatusInternalServerError, "Internal", "")
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// queryInt reads the query parameter name: def when absent, else an
// integer from 1 to max.
func queryInt(q url.Values, name string, def, max int) (int, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vs) != 1 {
		return 0, fmt.Errorf("%s given %d times", name, len(vs))
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s must be an integer from 1 to %d", name, max)
	}
	return n, nil
}

// serveCommand answers POST …/api/command with a DevtoolsCommand body.
func (h *Handler[Ctx]) serveCommand(w http.ResponseWriter, r *http.Request) {
	// A JSON content type cannot be sent by a plain HTML form: another
	// site cannot post a command without a preflight, which the origin
	// check refuses.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		devtoolsFail(w, http.StatusUnsupportedMediaType, "BadRequest", "want Content-Type: application/json")
		return
	}
	cmd, err := decodeCommand(http.MaxBytesReader(w, r.Body, maxDevtoolsBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			devtoolsFail(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", fmt.Sprintf("body over %d bytes", maxDevtoolsBody))
			return
		}
		devtoolsFail(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := h.checkCommand(cmd); err != nil {
		devtoolsFail(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	res, status, err := h.runCommand(r.Context(), cmd)
	if err != nil {
		code := "Conflict"
		msg := err.Error()
		if status >= 500 {
			code, msg = "Internal", ""
			h.report(r.Context(), &Error{Kind: internal(err), Endpoint: "devtools", ClientGroupID: cmd.ClientGroupID, Err: err})
		}
		devtoolsFail(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decodeCommand decodes one DevtoolsCommand: a single JSON object with
// no unknown fields and nothing after it.
func decodeCommand(body io.Reader) (*protocol.DevtoolsCommand, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		// encoding/json would turn invalid bytes into U+FFFD: a group id
		// that is not the one sent.
		return nil, errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cmd protocol.DevtoolsCommand
	if err := dec.Decode(&cmd); err != nil {
		return nil, fmt.Errorf("the body is not a devtools command: %v", err)
	}
	if dec.More() {
		return nil, errors.New("the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the body holds more than one JSON value")
	}
	return &cmd, nil
}

// checkCommand refuses a command that is not one: wrong discriminant or
// type, unknown command, missing or oversized group id.
func (h *Handler[Ctx]) checkCommand(cmd *protocol.DevtoolsCommand) error {
	switch {
	case cmd.Source != protocol.DevtoolsSource:
		return fmt.Errorf("source %q; want %q", cmd.Source, protocol.DevtoolsSource)
	case cmd.Type != protocol.DevtoolsTypeCommand:
		return fmt.Errorf("type %q; want %q", cmd.Type, protocol.DevtoolsTypeCommand)
	}
	switch cmd.Command {
	case protocol.DevtoolsPing:
		if cmd.ClientGroupID != "" {
			return errors.New("ping takes no clientGroupID")
		}
		return nil
	case protocol.DevtoolsPoke, protocol.DevtoolsReset, protocol.DevtoolsDisconnect:
	default:
		return fmt.Errorf("unknown command %q; want ping, poke, reset or disconnect", truncate(cmd.Command, 64))
	}
	switch g := cmd.ClientGroupID; {
	case g == "":
		return fmt.Errorf("%s needs a clientGroupID", cmd.Command)
	case !utf8.ValidString(g) || strings.IndexByte(g, 0) >= 0:
		return errors.New("clientGroupID is not valid UTF-8 without NUL")
	}
	return h.checkID("clientGroupID", cmd.ClientGroupID)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// runCommand carries out a checked command. An error comes with the
// HTTP status to answer: 409 for a command the server cannot carry out
// (no realtime hub to poke through), 500 for a failed statement.
func (h *Handler[Ctx]) runCommand(ctx context.Context, cmd *protocol.DevtoolsCommand) (*protocol.DevtoolsResult, int, error) {
	res := &protocol.DevtoolsResult{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeResult,
		Command: cmd.Command, ClientGroupID: cmd.ClientGroupID}
	poker, _ := h.opts.Notifier.(store.GroupPoker)
	switch cmd.Command {
	case protocol.DevtoolsPoke:
		if poker == nil {
			return nil, http.StatusConflict, errors.New("the handler's Notifier cannot poke a group (no realtime hub)")
		}
		poker.Poke(cmd.ClientGroupID)
		res.Poked = true
	case protocol.DevtoolsReset:
		n, err := h.dropViews(ctx, cmd.ClientGroupID)
		if err != nil {
			return nil, http.StatusInternalServerError, err
		}
		res.ViewsDropped = n
		if poker != nil {
			poker.Poke(cmd.ClientGroupID)
			res.Poked = true
		}
	case protocol.DevtoolsDisconnect:
		ri, ok := h.opts.Notifier.(RealtimeInspector)
		if !ok {
			return nil, http.StatusConflict, errors.New("the handler's Notifier has no connections to close (no realtime hub)")
		}
		res.Disconnected = ri.DisconnectGroup(cmd.ClientGroupID)
	}
	return res, 0, nil
}
