// SPDX-License-Identifier: Apache-2.0

package verify_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/symdist/symdist/verify"
)

// metric reads one sample of the controller's /metrics, or -1.
func metric(t *testing.T, url, name, sw string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{switch="` + sw + `"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// The controller's periodic audit exports verify state's result: no
// problem on figure 3 as programmed; with one bucket corrupted on the
// server side, the problems naming each switch (both differ there, and the
// server side's bucket names the wrong TM).
func TestAudit(t *testing.T) {
	d := figure3(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Controller.RunAudit(ctx, 50*time.Millisecond, verify.Auditor(d.Controller, 10*time.Second))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	waitMetric := func(name, sw string, want float64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for metric(t, d.AdminURL, name, sw) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s{switch=%q} = %v, want %v", name, sw, metric(t, d.AdminURL, name, sw), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitMetric("symdist_verify_problems", "client-side", 0)
	waitMetric("symdist_verify_problems", "server-side", 0)
	if ts := metric(t, d.AdminURL, "symdist_verify_last_success_timestamp_seconds", "server-side"); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last success %v, want about now", ts)
	}
	corruptOne(t, d, 99)
	waitMetric("symdist_verify_problems", "server-side", 2)
	waitMetric("symdist_verify_problems", "client-side", 1)
}
