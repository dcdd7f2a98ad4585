// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/symdist/symdist/adminapi"
)

// The CLI given the controller pair finds the primary (issue 24): drain
// and undrain through --controller lists whose first URL is a backup (it
// answers 421 naming the primary) or a controller that is not running.
// The controller-level test with a real pair is TestPairClientFollowsPrimary.
func TestDrainFollowsThePrimary(t *testing.T) {
	c, primary := figure3Admin(t)
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
