// SPDX-License-Identifier: Apache-2.0

// Package webui is the controller's web page: a read-only view of the tier
// (bucket tables, TMs, switches, the last events) served at / of the admin
// API, live over server-sent events. Everything it needs is embedded; it
// makes no request to another origin.
//
// It imports nothing of the controller: the controller gives it a Source,
// and the page polls it (every PollInterval), turns each change into a
// Snapshot and the differences between two polls into Events, and pushes
// the snapshot to every open page.
//
// The page's assets carry no data and are served without the admin
// token (Public); the event stream (GET /ui/events) is data and is served
// only where the rest of the admin API is: behind the token and the guard.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/symdist/symdist/adminapi"
)

// PollInterval is how often the page's hub reads its Source.
const PollInterval = 100 * time.Millisecond

// EventsPath is the page's stream: text/event-stream, one "snapshot" event
// per change.
const EventsPath = "/ui/events"

// State is what a Source gives: the admin API's status and what the page
// shows beyond it.
type State struct {
	Status adminapi.Status
	// Tables by group: the table the switches are written from (Switch),
	// and the one published to the TMs' watch (Published, "" for a bucket
	// in a handover; nil before the first).
	Tables map[string]Table
	// Switches by name: what Status lacks.
	Switches map[string]SwitchExtra
	// HandoverTimeouts by TM: losses not acknowledged in time.
	HandoverTimeouts map[string]int
	// Config changes each time a reload or an apply replaces the config
	// (any value that compares equal for the same config).
	Config any
	// Rejected counts the refused configs by way in (reload, plan, apply).
	Rejected map[string]int
}

// Table is one group's bucket table.
type Table struct {
	Switch    []string
	Published []string
	// Waiting counts, by TM, the buckets of a published loss the TM has
	// not acknowledged yet (the switches still send them to it).
	Waiting map[string]int
	// Chained counts, by TM, the buckets it was a previous owner of within
	// the chain window: their new owners hand it the packets of its
	// established connections (docs/tmapi.md, "Chaining").
	Chained map[string]int
}

// SwitchExtra is what the page shows of a switch beyond adminapi.SwitchStatus.
type SwitchExtra struct {
	SyncTook time.Duration // the last successful sync
	Entries  int           // held after it
	Target   string
	Cookie   uint64 // the pipeline's
}

// Source is the controller as the page reads it. State is called every
// PollInterval and must not block for long; the slices it returns are the
// page's to keep (the controller's tables are never written once set).
type Source interface {
	State() State
}

//go:embed assets
var assets embed.FS

// assetPaths are the page's files: what Public lets through without the
// token.
var assetPaths = map[string]string{
	"/":           "assets/index.html",
	"/ui/app.js":  "assets/app.js",
	"/ui/app.css": "assets/app.css",
}

// Public reports whether r asks for one of the page's assets, which carry
// no data and need no token (the page asks for the token itself).
func Public(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	_, ok := assetPaths[r.URL.Path]
	return ok
}

// Routes adds the page to the admin API's mux: its assets and its event
// stream, read from src until done is closed.
func Routes(mux *http.ServeMux, src Source, done <-chan struct{}) {
	h := newHub(src, done)
	go h.run()
	for path, file := range assetPaths {
		pattern := "GET " + path
		if path == "/" {
			pattern = "GET /{$}"
		}
		body, err := fs.ReadFile(assets, file)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		ctype := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[ext(file)]
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd.Set("Content-Type", ctype)
			hd.Set("Cache-Control", "no-cache")
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("X-Frame-Options", "DENY")
			// Nothing from another origin, not even by accident.
			hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
			hd.Set("Referrer-Policy", "no-referrer")
			_, _ = w.Write(body)
		})
	}
	mux.HandleFunc("GET "+EventsPath, h.serveEvents)
}

func ext(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i:]
		}
	}
	return ""
}
