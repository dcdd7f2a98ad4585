// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// A switch kind starts a switch on the topology's switch sides, programs
// it, and returns a function that stops it.
type switchKind struct {
	start func(ctx context.Context, o options, t *topology, log *slog.Logger) (stop func(), err error)
}

var switchKinds = map[string]switchKind{
	"bridge": {startBridge},
	"software": {func(ctx context.Context, o options, t *topology, log *slog.Logger) (func(), error) {
		return startSoftware(ctx, "ring", o, t, log)
	}},
	"software-socket": {func(ctx context.Context, o options, t *topology, log *slog.Logger) (func(), error) {
		return startSoftware(ctx, "socket", o, t, log)
	}},
	"bmv2-debug": {func(ctx context.Context, o options, t *topology, log *slog.Logger) (func(), error) {
		return startBMv2(ctx, o.bmv2Debug, o, t, log)
	}},
	"bmv2-fast": {func(ctx context.Context, o options, t *topology, log *slog.Logger) (func(), error) {
		return startBMv2(ctx, o.bmv2Fast, o, t, log)
	}},
}

// The addresses of the bench: frames go from clients to the VIP, to the
// switch's MAC, and the TMs' MACs are where the switch sends them.
const (
	switchMAC = "02:00:00:00:00:99"
	grpcAddr  = "127.0.0.1:9571"
	adminAddr = "127.0.0.1:9572"
)

func tmMAC(port int) string { return fmt.Sprintf("02:00:00:00:01:%02x", port) }

// startBridge makes a Linux bridge of the switch sides with a static FDB
// entry sending the switch's MAC to the first TM port: the kernel alone
// forwarding each frame to one port, the reference.
func startBridge(_ context.Context, _ options, t *topology, _ *slog.Logger) (func(), error) {
	br := prefix + "br"
	steps := [][]string{{"ip", "link", "add", br, "type", "bridge"}, {"ip", "link", "set", br, "up"}}
	for _, p := range t.ports {
		steps = append(steps, []string{"ip", "link", "set", switchSide(p), "master", br})
	}
	steps = append(steps, []string{"bridge", "fdb", "add", switchMAC, "dev", switchSide(tmPorts[0]), "master", "static"})
	stop := func() { _ = sh("ip", "link", "del", br) }
	for _, s := range steps {
		if err := sh(s...); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// startSoftware runs `symdist switch` with its ports on rings or on
// plain sockets (portIO), so one run compares the two.
func startSoftware(ctx context.Context, portIO string, o options, t *topology, log *slog.Logger) (func(), error) {
	args := []string{"switch", "--grpc", grpcAddr, "--device-id", "1", "--port-io", portIO}
	for _, p := range t.ports {
		args = append(args, "--port", fmt.Sprintf("%d=%s", p, switchSide(p)))
	}
	return startProgrammed(ctx, o, log, o.symdist, args)
}

func startBMv2(ctx context.Context, bin string, o options, t *topology, log *slog.Logger) (func(), error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, errSkip
	}
	args := []string{"--device-id", "1", "--no-p4"}
	for _, p := range t.ports {
		args = append(args, "-i", fmt.Sprintf("%d@%s", p, switchSide(p)))
	}
	args = append(args, "--", "--grpc-server-addr", grpcAddr, "--cpu-port", "255")
	return startProgrammed(ctx, o, log, bin, args)
}

// startProgrammed starts a P4Runtime switch, then `symdist controller`
// with the bench's config, and waits until the controller reports the
// switch in sync.
func startProgrammed(ctx context.Context, o options, log *slog.Logger, bin string, args []string) (func(), error) {
	dir, err := os.MkdirTemp("", "switchbench")
	if err != nil {
		return nil, err
	}
	swLog, _ := os.Create(filepath.Join(dir, "switch.log"))
	sw := exec.Command(bin, args...)
	sw.Stdout, sw.Stderr = swLog, swLog
	if err := sw.Start(); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfgPath, []byte(benchConfig()), 0o644); err != nil {
		return nil, err
	}
	ctlLog, _ := os.Create(filepath.Join(dir, "controller.log"))
	ctl := exec.Command(o.symdist, "controller", "--config", cfgPath)
	ctl.Stdout, ctl.Stderr = ctlLog, ctlLog
	if err := ctl.Start(); err != nil {
		_ = sw.Process.Kill()
		return nil, err
	}
	stop := func() {
		for _, c := range []*exec.Cmd{ctl, sw} {
			_ = c.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}
		_ = os.RemoveAll(dir)
	}
	start := time.Now()
	for {
		if inSync() {
			log.Info("programmed", "after", time.Since(start).Round(time.Millisecond))
			return stop, nil
		}
		if time.Since(start) > 60*time.Second || ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "controller.log"))
			stop()
			return nil, fmt.Errorf("the controller did not program the switch in 60 s; its log:\n%s", tail(b, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func inSync() bool {
	resp, err := http.Get("http://" + adminAddr + "/api/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Switches []struct {
			InSync bool `json:"in_sync"`
		} `json:"switches"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || len(st.Switches) == 0 {
		return false
	}
	return st.Switches[0].InSync
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// benchConfig is one switch, one edge port, three TMs of equal weight in
// one group whose VIP the frames go to.
func benchConfig() string {
	c := fmt.Sprintf(`buckets: 4096
election_id: 10
admin: {listen: %q}
switches:
  - name: bench
    address: %q
    device_id: 1
    ports:
      - {port: %d, role: edge}
`, adminAddr, grpcAddr, edgePort)
	for _, p := range tmPorts {
		c += fmt.Sprintf("      - {port: %d, role: tm}\n", p)
	}
	c += `groups:
  - name: web
    id: 1
    default_tm: tm2
    rules:
      - {priority: 10, ip_version: 4, dst: 10.0.0.100/32}
tms:
`
	for _, p := range tmPorts {
		c += fmt.Sprintf(`  - name: tm%d
    id: %d
    group: web
    addresses: [10.0.1.%d]
    ports:
      bench: {port: %d, mac: %q}
`, p, p, p, p, tmMAC(p))
	}
	return c
}
