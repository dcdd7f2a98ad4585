// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"time"
)

// progressEvery is how often a long programming reports on stderr.
const progressEvery = 5 * time.Second

// reportProgress prints, every few seconds until stopped, how many
// updates the switch has taken (written), of about entries bucket
// entries, and the switch process's memory; with written nil (no counting
// proxy), the memory alone.
func reportProgress(sw *bmv2, written func() int64, entries int, start time.Time) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			rss := "?"
			if m, err := sw.memory(); err == nil {
				rss = fmt.Sprintf("%.0f MB", mb(m.RSS))
			}
			if written == nil {
				fmt.Fprintf(os.Stderr, "memory: %5.0fs  bmv2 RSS %s\n", time.Since(start).Seconds(), rss)
				continue
			}
			n := written()
			fmt.Fprintf(os.Stderr, "memory: %5.0fs  %8d updates written (of about %d bucket entries)  %5.0f/s  bmv2 RSS %s\n",
				time.Since(start).Seconds(), n, entries, float64(n-last)/progressEvery.Seconds(), rss)
			last = n
		}
	}()
	return func() { close(quit); <-done }
}
