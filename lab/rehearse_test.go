package lab

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bmv2Path puts /opt/p4/bin (where bmv2 is built here) on PATH and says
// whether simple_switch_grpc is there to run.
func bmv2Path() bool {
	if _, err := os.Stat("/opt/p4/bin/simple_switch_grpc"); err == nil {
		os.Setenv("PATH", "/opt/p4/bin:"+os.Getenv("PATH"))
	}
	_, err := exec.LookPath("simple_switch_grpc")
	return err == nil
}

// TestRehearse builds examples/rehearse.yaml (5 TMs in two groups, weights
// 1-3, an IPv4 and an IPv6 VIP) from the config alone and runs the
// end-to-end scenario on it: requests through every VIP with both
// directions of each connection on one TM, a TM killed, the same TM
// joining again, a weight change, a drain and an undrain, with new
// connections opened through every change: none may fail.
func TestRehearse(t *testing.T) {
	switches := []string{"soft"}
	if bmv2Path() {
		switches = append(switches, "bmv2")
	} else {
		t.Log("bmv2 run skipped: simple_switch_grpc not installed")
	}
	for _, sw := range switches {
		t.Run(sw, func(t *testing.T) {
			if why := Missing(); why != "" {
				t.Skip("lab: " + why)
			}
			dir := t.TempDir()
			if os.Getenv("SYMDIST_KEEP_LOGS") != "" {
				dir, _ = os.MkdirTemp("", "symdist-rehearse-")
				t.Logf("logs in %s", dir)
			}
			logf, err := os.Create(filepath.Join(dir, "controller.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			r, err := Rehearse(RehearseOptions{Config: "../examples/rehearse.yaml", Prefix: "rt" + sw[:1], Binary: binary,
				Switch: sw, Dir: dir, Log: slog.New(slog.NewTextHandler(logf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Down()
			if len(r.VIPs) != 2 || !r.VIPs[0].Addr.Is4() || !r.VIPs[1].Addr.Is6() {
				t.Fatalf("VIPs %v, want one IPv4 and one IPv6", r.VIPs)
			}
			sc := r.RunScenario(func(s Step) { t.Log(s) })
			if !sc.Passed() {
				t.Errorf("the rehearsal failed:\n%s(logs in %s)", sc, dir)
			}
		})
	}
}
