// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/controller"
)

// The CLI given the controller pair finds the primary (issue 24): drain
// and undrain through --controller lists whose first URL is a backup (it
// answers 421 naming the primary) or a controller that is not running.
// The controller-level test with a real pair is TestPairClientFollowsPrimary.
func TestDrainFollowsThePrimary(t *testing.T) {
	cfg, err := config.Load("../../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.ServeAdmin(ctx, ln)
	primary := "http://" + ln.Addr().String()
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(adminapi.HeaderRole, adminapi.RoleBackup)
		w.WriteHeader(adminapi.StatusNotPrimary)
		json.NewEncoder(w).Encode(adminapi.NotPrimary{Error: "this controller is a backup: ask the primary", Primary: primary})
	}))
	defer backup.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	drained := func() bool { return c.Status().Groups[0].TMs[0].Drained }

	for _, args := range [][]string{
		{"--controller", backup.URL, "--controller", primary},
		{"--controller", deadURL + "," + primary},
		{"--controller", backup.URL}, // the backup's answer alone
	} {
		if _, err := runCmd(t, append([]string{"drain", "tm1"}, args...)...); err != nil || !drained() {
			t.Fatalf("symdist drain %v: %v, drained=%v", args, err, drained())
		}
		if _, err := runCmd(t, append([]string{"undrain", "tm1"}, args...)...); err != nil || drained() {
			t.Fatalf("symdist undrain %v: %v, drained=%v", args, err, drained())
		}
	}
	if _, err := runCmd(t, "drain", "tm1", "--controller", deadURL); err == nil {
		t.Fatal("drain through a dead controller alone succeeded")
	}
}
