// SPDX-License-Identifier: Apache-2.0

// Package bfdrivers runs the code of bf-drivers' PI back end that reads
// the device config bf_switchd --p4rt-server is sent
// (_pi_update_device_start, testdata/pi_update_device_start.c, the upstream
// text) on what devconfig.BfSwitchdConfig packs: a small C harness
// (testdata/harness.c) compiles it with stand-ins for the driver calls
// around it and reports what the driver would be given.
package bfdrivers

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/symdist/symdist/devconfig"
	"google.golang.org/protobuf/encoding/protowire"
)

// harness compiles testdata/harness.c once per test binary.
func harness(t *testing.T) string {
	t.Helper()
	cc := ""
	for _, c := range []string{os.Getenv("CC"), "cc", "gcc", "clang"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Skip("no C compiler (cc, gcc, clang or $CC): bf-drivers' device-config parser is not run")
	}
	bin := filepath.Join(t.TempDir(), "harness")
	cmd := exec.Command(cc, "-std=gnu11", "-O1", "-Wall", "-o", bin, "harness.c")
	cmd.Dir = "testdata"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return bin
}

// deviceData unwraps P4DeviceConfig.device_data (field 2, the only one).
func deviceData(t *testing.T, cfg []byte) []byte {
	t.Helper()
	num, typ, n := protowire.ConsumeTag(cfg)
	if n < 0 || num != 2 || typ != protowire.BytesType {
		t.Fatalf("P4DeviceConfig does not start with device_data (field 2)")
	}
	v, m := protowire.ConsumeBytes(cfg[n:])
	if m < 0 || n+m != len(cfg) {
		t.Fatalf("P4DeviceConfig is not device_data alone")
	}
	return v
}

// run gives the harness a device_data blob and returns what it reported
// ("key value" lines) and its output directory.
func run(t *testing.T, bin string, blob []byte) (map[string]string, string, error) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "device_data")
	if err := os.WriteFile(in, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, in, out)
	cmd.Dir = dir // the driver writes its temporary files in its working directory
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	rep := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			rep[k] = v
		}
	}
	if err != nil {
		return rep, out, errors.Join(err, errors.New(stderr.String()))
	}
	return rep, out, nil
}

// pipelines: a small one always, and the assembled Tofino builds where
// make tofino has left them in out/tofino.
func pipelines(t *testing.T) map[string]*devconfig.TofinoPipeline {
	t.Helper()
	bin := make([]byte, 200_000)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	ps := map[string]*devconfig.TofinoPipeline{
		"small": {ProgramName: "symdist", BfRt: []byte(`{"tables":[]}`),
			Profiles: []devconfig.TofinoProfile{{Name: "pipe", Context: []byte(`{"program_name":"symdist"}`), Binary: bin}}},
	}
	base := os.Getenv("SYMDIST_TOFINO_OUT")
	if base == "" {
		base = filepath.Join("..", "..", "out", "tofino")
	}
	for _, target := range []string{"tofino", "tofino2"} {
		conf := filepath.Join(base, target, "symdist.conf")
		if _, err := os.Stat(conf); err != nil {
			t.Logf("%s: no assembled build (make tofino TOFINO_TARGET=%s): only the other pipelines are run", conf, target)
			continue
		}
		p, err := devconfig.LoadTofino(conf, "pipe")
		if err != nil {
			t.Fatal(err)
		}
		ps[target] = p
	}
	return ps
}

// bf-drivers' parser, given the packed config, hands the driver the
// program name, the binary and the context.json byte for byte, no
// pipeline name and no bf-rt.json (the trailing zero), and reads nothing
// past the blob (the harness maps a page without access right after it).
func TestBfDriversReadsBfSwitchdConfig(t *testing.T) {
	bin := harness(t)
	for name, p := range pipelines(t) {
		t.Run(name, func(t *testing.T) {
			cfg, err := devconfig.BfSwitchdConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			rep, out, err := run(t, bin, deviceData(t, cfg))
			if err != nil {
				t.Fatalf("the driver's parser failed: %v (report %v)", err, rep)
			}
			for k, want := range map[string]string{
				"status": "0", "num_p4_programs": "1", "prog_name": p.ProgramName, "num_p4_pipelines": "1",
				"bfrt_json_file": "none", "p4_pipeline_name": "(none)",
			} {
				if rep[k] != want {
					t.Errorf("%s = %q, want %q", k, rep[k], want)
				}
			}
			for file, want := range map[string][]byte{"binary": p.Profiles[0].Binary, "context.json": p.Profiles[0].Context} {
				got, err := os.ReadFile(filepath.Join(out, file))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("the driver was given a %s of %d bytes, not the compiler's %d", file, len(got), len(want))
				}
			}
			t.Logf("%s: the driver got program %q, binary %s bytes, context.json %s bytes",
				name, rep["prog_name"], rep["binary_bytes"], rep["context.json_bytes"])
		})
	}
}

// Without the trailing zero the parser reads a fourth length past the end
// of the blob: the reason BfSwitchdConfig writes it. The harness's guard
// page turns that read into a segmentation fault.
func TestBfDriversNeedsTrailingZero(t *testing.T) {
	bin := harness(t)
	p := pipelines(t)["small"]
	cfg, err := devconfig.BfSwitchdConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	blob := deviceData(t, cfg)
	_, _, err = run(t, bin, blob[:len(blob)-4])
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the parser took a blob without the trailing zero (err %v): it no longer reads a fourth length?", err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSEGV {
		t.Fatalf("without the trailing zero: %v, want a segmentation fault (a read past the blob)", err)
	}
}

// The vendored function is the upstream text: where open-p4studio's source
// is at hand ($SYMDIST_P4STUDIO: a checkout or git directory of
// p4lang/open-p4studio; or P4_SRC's p4lang+open-p4studio, as make toolchain
// takes it), the copy is compared with pi_imp.c at the pinned commit.
func TestVendoredCopyIsUpstream(t *testing.T) {
	const commit = "1f97778f9ad5c8165bfce552fffe27c69887756b"
	src := os.Getenv("SYMDIST_P4STUDIO")
	if src == "" && os.Getenv("P4_SRC") != "" {
		src = filepath.Join(os.Getenv("P4_SRC"), "p4lang+open-p4studio", "repo")
	}
	if src == "" {
		t.Skip("no open-p4studio source (SYMDIST_P4STUDIO or P4_SRC): the vendored parser is not compared with upstream")
	}
	upstream, err := exec.Command("git", "-C", src, "show", commit+":pkgsrc/bf-drivers/src/pi/pi_imp.c").Output()
	if err != nil {
		t.Skipf("git -C %s show %s:pkgsrc/bf-drivers/src/pi/pi_imp.c: %v", src, commit, err)
	}
	vendored, err := os.ReadFile(filepath.Join("testdata", "pi_update_device_start.c"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "/* ---- upstream ---- */\n"
	_, body, ok := bytes.Cut(vendored, []byte(marker))
	if !ok {
		t.Fatalf("testdata/pi_update_device_start.c has no line %q", marker)
	}
	if !bytes.Contains(upstream, body) {
		t.Error("testdata/pi_update_device_start.c is not the text of pi_imp.c at " + commit)
	}
}
