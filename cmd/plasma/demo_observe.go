package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/otelsync"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// demoMetrics sets up the demo's metrics: the sync handler's Observer,
// recording through OpenTelemetry's SDK to a Prometheus registry that
// the returned handler serves (GET /metrics), with the hub's
// connections and pokes and the change log's size read at each scrape.
// stop unregisters the readers and shuts the SDK down.
func demoMetrics(db *orm.DB, hub *realtime.Hub) (obs *otelsync.Observer, metrics http.Handler, stop func() error, err error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	stops := []func() error{}
	stop = func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		return errors.Join(append(errs, mp.Shutdown(context.Background()))...)
	}
	if obs, err = otelsync.New(otelsync.Options{MeterProvider: mp}); err != nil {
		return nil, nil, nil, errors.Join(err, stop())
	}
	for _, watch := range []func() (func() error, error){
		func() (func() error, error) { return obs.WatchHub(hub) },
		func() (func() error, error) { return obs.WatchChangeLog(db) },
	} {
		s, err := watch()
		if err != nil {
			return nil, nil, nil, errors.Join(err, stop())
		}
		stops = append(stops, s)
	}
	return obs, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), stop, nil
}

// demoDevtools returns the devtools options of the demo started with
// -devtools, and the admin token it prints: the page and its API answer
// only requests that carry it, as the token query parameter (the page
// passes its own on to its API calls) or the X-Plasma-Devtools-Token
// header. Without -devtools it returns nil: the devtools are not served.
func demoDevtools(enabled bool) (*server.DevtoolsOptions, string, error) {
	if !enabled {
		return nil, "", nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	token := hex.EncodeToString(b)
	admin := func(r *http.Request) bool {
		got := r.Header.Get("X-Plasma-Devtools-Token")
		if got == "" {
			got = r.URL.Query().Get("token")
		}
		return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
	return &server.DevtoolsOptions{Admin: admin}, token, nil
}
