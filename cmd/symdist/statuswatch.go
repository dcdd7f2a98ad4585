// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/symdist/symdist/adminapi"
	"golang.org/x/term"
)

// ANSI sequences for redrawing a terminal in place.
const (
	ansiHome      = "\x1b[H"
	ansiClear     = "\x1b[2J"
	ansiClearLine = "\x1b[K" // to the end of the line
	ansiClearDown = "\x1b[J" // from the cursor to the end of the screen
	ansiHideCur   = "\x1b[?25l"
	ansiShowCur   = "\x1b[?25h"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusWatch is `symdist status --watch`.
type statusWatch struct {
	fetch   func(context.Context) (adminapi.Status, error)
	url     string
	every   time.Duration
	inPlace bool // a terminal: redraw each frame over the last
	asJSON  bool // one JSON line per change
	now     func() time.Time
}

// run prints the status every interval until ctx ends. In place, each
// frame replaces the last (a header with the time, then the tables, or
// why the controller could not be read); otherwise a frame is printed
// only when the status changed, after a line with its time, so that a
// log or a pipe gets the changes. A controller that does not answer is
// shown and asked again: run ends only with ctx.
func (s statusWatch) run(ctx context.Context, w io.Writer) error {
	if s.now == nil {
		s.now = time.Now
	}
	if s.inPlace {
		fmt.Fprint(w, ansiHideCur+ansiClear)
		defer fmt.Fprint(w, ansiShowCur)
	}
	var last string
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		fctx, cancel := context.WithTimeout(ctx, max(s.every, 2*time.Second))
		st, err := s.fetch(fctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var body bytes.Buffer
		switch {
		case err != nil:
			fmt.Fprintf(&body, "cannot read the controller's status: %v (trying again)\n", err)
		case s.asJSON:
			b, _ := json.Marshal(st)
			body.Write(append(b, '\n'))
		default:
			printStatus(&body, st)
		}
		stamp := s.now().Format("15:04:05")
		switch {
		case s.inPlace && !s.asJSON:
			var frame strings.Builder
			frame.WriteString(ansiHome)
			head := fmt.Sprintf("symdist status  %s  every %v  %s  (Ctrl-C ends)\n\n", s.url, s.every, stamp)
			for _, line := range strings.SplitAfter(head+body.String(), "\n") {
				if line == "" {
					continue
				}
				frame.WriteString(strings.TrimSuffix(line, "\n") + ansiClearLine + "\n")
			}
			frame.WriteString(ansiClearDown)
			if _, err := io.WriteString(w, frame.String()); err != nil {
				return err
			}
		case body.String() != last:
			out := body.String()
			if !s.asJSON {
				out = fmt.Sprintf("--- %s\n%s\n", stamp, out)
			}
			if _, err := io.WriteString(w, out); err != nil {
				return err
			}
		}
		last = body.String()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
