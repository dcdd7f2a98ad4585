// SPDX-License-Identifier: Apache-2.0

package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/test/testbed"
)

// The admin API refuses what a web page can send (adminguard.go); the
// project's own commands still work through it: drain, undrain, status.
func TestDrainCommandsThroughTheGuard(t *testing.T) {
	c, url := figure3Admin(t)
	drained := func() bool { return c.Status().Groups[0].TMs[0].Drained }

	// The request: a cross-site text/plain POST.
	req, _ := http.NewRequest("POST", url+"/api/tms/tm1/drain", strings.NewReader("x"))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || drained() {
		t.Fatalf("cross-site POST: HTTP %d, drained=%v; want 403 and not drained", resp.StatusCode, drained())
	}

	if _, err := runCmd(t, "drain", "tm1", "--controller", url); err != nil || !drained() {
		t.Fatalf("symdist drain: %v, drained=%v", err, drained())
	}
	out, err := runCmd(t, "status", "--controller", url)
	if err != nil || !strings.Contains(out, "tm1") {
		t.Fatalf("symdist status: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "undrain", "tm1", "--controller", url); err != nil || drained() {
		t.Fatalf("symdist undrain: %v, drained=%v", err, drained())
	}
	if _, err := runCmd(t, "drain", "tm9", "--controller", url); err == nil || !strings.Contains(err.Error(), "no TM") {
		t.Errorf("symdist drain of an unknown TM: %v, want the API's error", err)
	}
}

// figure3Admin runs a controller of examples/figure3.yaml (no switch
// reached) serving its admin API until the test ends, and returns it with
// the API's URL.
func figure3Admin(t *testing.T) (*controller.Controller, string) {
	t.Helper()
	cfg, err := config.Load("../../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, "http://" + testbed.ServeAdmin(t, c)
}
