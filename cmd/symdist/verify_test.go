// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/test/verifytest"
	"github.com/symdist/symdist/vectors"
	"github.com/symdist/symdist/verify"
	"google.golang.org/protobuf/proto"
)

// exitCode is what main exits with for err.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

func figure3(t *testing.T) *verifytest.Deployment {
	return verifytest.Figure3(t, "../..", func(string) map[uint16]swswitch.Port { return verifytest.PipePorts(5) })
}

// verify state on figure 3 as the controller programs it: ok, exit 0;
// with one bucket corrupted on one switch: exit 1, and the report names
// that bucket, in text and in JSON.
func TestVerifyStateCmd(t *testing.T) {
	d := figure3(t)
	out, err := runCmd(t, "verify", "state", "--config", d.ConfigPath, "--controller", d.AdminURL)
	if exitCode(err) != 0 || !strings.Contains(out, "ok: 2 switches hold what they must") {
		t.Fatalf("verify state: exit %d (%v), output:\n%s", exitCode(err), err, out)
	}
	table, err := d.Controller.Buckets("web")
	if err != nil {
		t.Fatal(err)
	}
	wrong := "tm1"
	if table[77] == "tm1" {
		wrong = "tm2"
	}
	defer d.Corrupt(t, "server-side", "web", 77, wrong)()
	out, err = runCmd(t, "verify", "state", "--config", d.ConfigPath, "--controller", d.AdminURL)
	if exitCode(err) != 1 || !strings.Contains(out, "bucket 77: client-side names "+table[77]+", server-side names "+wrong) ||
		!strings.Contains(out, "bucket 77 names "+wrong+"; the controller's table names "+table[77]) || !strings.Contains(out, "\n2 problems\n") {
		t.Errorf("verify state of a corrupted bucket: exit %d (%v), output:\n%s", exitCode(err), err, out)
	}
	out, err = runCmd(t, "verify", "state", "--config", d.ConfigPath, "--json")
	var r verify.StateReport
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || exitCode(err) != 1 || len(r.Problems) != 1 || *r.Problems[0].Bucket != 77 {
		t.Errorf("verify state --json of a corrupted bucket: exit %d, %v, report %+v", exitCode(err), jerr, r)
	}
}

// otherP4Info is symdist's P4Info with a table renamed, an action
// parameter widened and a counter dropped.
func otherP4Info() *p4configv1.P4Info {
	info := proto.Clone(p4info.MustLoad().Info).(*p4configv1.P4Info)
	info.Tables[0].Preamble.Name = "MyIngress.ipv4_lpm"
	info.Actions[1].Params[0].Bitwidth++
	info.Counters = info.Counters[1:]
	return info
}

// Bad input: a one-line error, exit 2, and no Write, pipeline push or
// arbitration stream reaches any switch.
func TestVerifyBadInput(t *testing.T) {
	sw := verifytest.StartSwitch(t, 1, verifytest.PipePorts(5))
	verifytest.Program(t, sw, p4info.MustLoad().Info, p4info.BMv2JSON())
	other := verifytest.StartOtherProgram(t, otherP4Info())
	none := verifytest.StartOtherProgram(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join("..", "..", "examples", "figure3.yaml")
	example, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed2 := ln2.Addr().String()
	ln2.Close()
	unreachable := filepath.Join(dir, "unreachable.yaml")
	if err := os.WriteFile(unreachable, []byte(strings.NewReplacer("127.0.0.1:9559", closed, "127.0.0.1:9560", closed2).Replace(string(example))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string // in the error
	}{
		{"unreachable switch", []string{"verify", "state", "--switch", closed, "--timeout", "5s"}, []string{"cannot reach the switch at " + closed}},
		{"unreachable deployment", []string{"verify", "state", "--config", unreachable, "--timeout", "5s"}, []string{"cannot reach the switch at " + closed, "cannot reach the switch at " + closed2}},
		{"wrong device id", []string{"verify", "state", "--switch", sw.Addr, "--device-id", "7"}, []string{"does not serve device id 7"}},
		{"another program", []string{"verify", "state", "--switch", other.Addr},
			[]string{"runs another program", "4 differences", "table SymdistIngress.port_role.port_role is missing", "table MyIngress.ipv4_lpm is not symdist's", "action SymdistIngress.port_role.set_port_role differs in params",
				"counter SymdistIngress.tm_select.tm_counter is missing"}},
		{"no program", []string{"verify", "state", "--switch", none.Addr}, []string{"has no pipeline for device id 1"}},
		{"wrong device id, bmv2's answer", []string{"verify", "state", "--switch", none.Addr, "--device-id", "7"}, []string{"has no pipeline for device id 7 (a wrong device id"}},
		{"missing interface", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=nosuchif0"}, []string{"port 1: interface nosuchif0"}},
		{"pcap unreadable", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=lo", "--pcap", garbage}, []string{"garbage.pcap"}},
		{"pcap missing", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=lo", "--pcap", filepath.Join(dir, "nope.pcap")}, []string{"nope.pcap: no such file"}},
		{"bad port", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1:veth1"}, []string{`--port "1:veth1": want PORT=IFACE`}},
		{"no packets", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=lo", "--random", "-5"}, []string{"--random -5: want 1 or more"}},
		{"no burst", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=lo", "--burst", "0"}, []string{"--burst 0: want 1 or more"}},
		{"pcap and random", []string{"verify", "traffic", "--switch", sw.Addr, "--port", "1=lo", "--pcap", garbage, "--random", "5"}, []string{"not both"}},
		{"no port", []string{"verify", "traffic", "--switch", sw.Addr}, []string{"no port is cabled"}},
		{"TLS CA missing", []string{"verify", "state", "--switch", sw.Addr, "--tls-ca", filepath.Join(dir, "ca.pem")}, []string{"TLS: open ", "ca.pem"}},
		{"TLS to a plaintext switch", []string{"verify", "state", "--switch", sw.Addr, "--tls-server-name", "switch", "--timeout", "5s"}, []string{"cannot reach the switch at " + sw.Addr}},
		{"no switch", []string{"verify", "state"}, []string{"give --config FILE or --switch"}},
		{"switch not in the config", []string{"verify", "state", "--config", cfgPath, "--name", "nope"}, []string{"has no switch nope"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sw.Calls.Take()
			_, err := runCmd(t, tt.args...)
			if exitCode(err) != 2 {
				t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error of more than one line: %q", msg)
			}
			for name, calls := range map[string]map[string]int{"switch": sw.Calls.Take(), "other": other.Calls.Take(), "none": none.Calls.Take()} {
				if verifytest.Disturbing(calls) != 0 {
					t.Errorf("%s was called %v", name, calls)
				}
			}
		})
	}
}

// verify traffic on the command line, against the software switch on
// veths (root): a pcap's packets, then random ones, through the client
// side of figure 3: exit 0 and a report by reason.
func TestVerifyTrafficCmd(t *testing.T) {
	d, hosts := verifytest.VethFigure3(t, "../..", "soft", "vx")
	args := []string{"verify", "traffic", "--config", d.ConfigPath, "--name", "client-side", "--controller", d.AdminURL}
	for port, iface := range hosts["client-side"] {
		args = append(args, "--port", fmt.Sprintf("%d=%s", port, iface))
	}
	for _, tt := range []struct {
		name, flags, want string
	}{
		{"pcap", "--pcap " + writePcap(t, vectors.PortClient), "hashed"},
		{"random", "--random 500 --seed 3", "echo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, append(args, strings.Fields(tt.flags)...)...)
			if exitCode(err) != 0 || !strings.Contains(out, "ok: every packet left as the model says") || !strings.Contains(out, "\n"+tt.want+" ") {
				t.Errorf("exit %d (%v), output:\n%s", exitCode(err), err, out)
			}
		})
	}
}

// One switch of the config, found by its address; one switch alone.
func TestVerifyStateOneSwitchCmd(t *testing.T) {
	d := figure3(t)
	ss := d.Switches["server-side"]
	for _, args := range [][]string{
		{"--switch", ss.Addr, "--device-id", "2", "--config", d.ConfigPath, "--controller", d.AdminURL},
		{"--switch", ss.Addr, "--device-id", "2"},
	} {
		out, err := runCmd(t, append([]string{"verify", "state"}, args...)...)
		if exitCode(err) != 0 || !strings.Contains(out, "ok: 1 switches hold what they must") {
			t.Errorf("verify state %v: exit %d (%v), output:\n%s", args, exitCode(err), err, out)
		}
	}
}

// symdist controller audits the switches every --audit-interval and
// exports the result on /metrics.
func TestControllerAuditCmd(t *testing.T) {
	cs := verifytest.StartSwitch(t, 1, verifytest.PipePorts(5))
	ss := verifytest.StartSwitch(t, 2, verifytest.PipePorts(5))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()
	example, err := os.ReadFile("../../examples/figure3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("127.0.0.1:9559", cs.Addr, "127.0.0.1:9560", ss.Addr, "127.0.0.1:9090", admin, "type: tcp", "type: none", "type: http", "type: none").Replace(string(example))
	path := filepath.Join(t.TempDir(), "figure3.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs([]string{"controller", "--config", path, "--audit-interval", "100ms"})
		root.SetErr(io.Discard)
		done <- root.ExecuteContext(ctx)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body := ""
		if resp, err := http.Get("http://" + admin + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		if strings.Contains(body, `symdist_verify_problems{switch="client-side"} 0`) && strings.Contains(body, `symdist_verify_problems{switch="server-side"} 0`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit result on /metrics after 20 s:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
