// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/p4tools"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/testing/protocmp"
)

// The Tofino build (docs/hardware.md) is p4src/symdist.p4 itself, compiled
// for v1model by p4c's Tofino back end, which defines __TARGET_TOFINO__.
// Its P4Info must be the bmv2 build's, names and IDs alike, so that the
// controller drives both with the IDs it resolves at start-up, but for
// one difference: its port type is translated (p4src/include/port.p4), so
// the four port fields are 32 bits and name port_num_t, and type_info
// maps port_num_t to tna/PortId_t (TranslatedPorts).

// tofinoTableSizes are the table sizes in which the Tofino build departs
// from the bmv2 one (p4src/include/size.p4 under __TARGET_TOFINO__); every
// other field of the P4Info is the same, but for two the compilers write
// (checkTofinoP4Info).
var tofinoTableSizes = map[string]int64{}

// tofinoCompiler is p4c-barefoot: $P4C_TOFINO, else on PATH, else where
// make toolchain TOFINO=1 (PREFIXtofino) or docs/hardware.md installs it
// (the same search as make tofino).
func tofinoCompiler() string {
	if p := os.Getenv("P4C_TOFINO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("p4c-barefoot"); err == nil {
		return p
	}
	for _, dir := range tofinoBins() {
		if p := filepath.Join(dir, "p4c-barefoot"); fileExists(p) {
			return p
		}
	}
	return ""
}

// tofinoBins are the directories tofinoCompiler looks in after PATH.
func tofinoBins() []string {
	dirs := []string{filepath.Join(p4tools.TofinoPrefix(), "bin")}
	if dirs[0] != "/opt/p4tofino/bin" {
		dirs = append(dirs, "/opt/p4tofino/bin")
	}
	return dirs
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkTofinoP4Info holds the P4Info file a Tofino compile wrote against the
// committed bmv2 one.
func checkTofinoP4Info(t *testing.T, path string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	bmv2 := MustLoad()

	// What the controller checks of a switch's P4Info (newSwitchPipeline).
	gotIDs, err := got.Resolve()
	if err != nil {
		t.Fatalf("the controller would refuse the Tofino P4Info: %v", err)
	}
	wantIDs, err := bmv2.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("the Tofino P4Info gives other IDs than the bmv2 one (-bmv2 +tofino):\n%s", diff)
	}
	if _, err := got.ResolveSizes(); err != nil {
		t.Errorf("the Tofino P4Info's sizes: %v", err)
	}
	// How the controller writes its ports: 32 bits, translated.
	ports, err := got.ResolvePorts()
	if err != nil {
		t.Errorf("the controller would refuse the Tofino P4Info's ports: %v", err)
	}
	if want := (Ports{Bits: 32, TypeName: PortTypeName, Translation: PortURI}); ports != want {
		t.Errorf("the Tofino P4Info's ports are %v, want %v", ports, want)
	}

	// Everything else, entity by entity: the bmv2 P4Info with its ports
	// translated and the listed size departures applied must be the
	// Tofino one.
	want := TranslatedPorts(bmv2.Info)
	for _, tb := range want.GetTables() {
		if n, ok := tofinoTableSizes[tb.GetPreamble().GetName()]; ok {
			tb.Size = n
		}
	}
	// Not compared: the package info, which names the compiler, and
	// initial_default_action, which p4c releases after bmv2's 1.2.4.8 write
	// (P4Runtime 1.4) as a restatement of the source's default actions.
	if diff := cmp.Diff(want, got.Info, protocmp.Transform(),
		protocmp.IgnoreFields(&p4configv1.P4Info{}, "pkg_info"),
		protocmp.IgnoreFields(&p4configv1.Table{}, "initial_default_action")); diff != "" {
		t.Errorf("the Tofino P4Info departs from the bmv2 one beyond its translated ports and tofinoTableSizes (-bmv2 translated +tofino):\n%s", diff)
	}
}

// compileBMv2 compiles p4src/symdist.p4 with p4c-bm2-ss and the given extra
// flags into a temporary directory, which it returns.
func compileBMv2(t *testing.T, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--arch", "v1model", "--std", "p4-16"}, flags...)
	args = append(args, "-o", filepath.Join(dir, "symdist.json"),
		"--p4runtime-files", filepath.Join(dir, "symdist.p4info.txtpb"),
		"p4src/symdist.p4")
	cmd := exec.Command(p4tools.MustFind(p4tools.P4C), args...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return dir
}

// The Tofino source compiled by bmv2's p4c: where p4c-bm2-ss is installed,
// this keeps the __TARGET_TOFINO__ code type-checked and its P4Info the
// bmv2 one with translated ports even on machines without the Tofino back
// end.
func TestTofinoSourceP4Info(t *testing.T) {
	if why := p4tools.Missing(p4tools.P4C, "p4c"); why != "" {
		t.Skip(why + ": the Tofino source is not compiled")
	}
	// Its P4Info is held against the committed one, which other p4c
	// releases write differently.
	if why := p4tools.P4COtherVersion(); why != "" {
		t.Skip(why)
	}
	dir := compileBMv2(t, "-D__TARGET_TOFINO__=1")
	checkTofinoP4Info(t, filepath.Join(dir, "symdist.p4info.txtpb"))
}

// The Tofino build itself, where the Tofino back end is installed: it must
// compile and fit for Tofino 1 (or the chip $TOFINO_TARGET names, as in
// make tofino: tofino2), its P4Info must be the bmv2 one's with the ports
// translated, and, where bfas is installed, it must assemble into files
// that pass checkAssembled.
func TestTofinoBuild(t *testing.T) {
	compiler := tofinoCompiler()
	if compiler == "" {
		t.Skip("p4c-barefoot (p4c's Tofino back end) not installed (P4C_TOFINO, PATH, " + strings.Join(tofinoBins(), ", ") + "; make toolchain TOFINO=1): the Tofino build is not compiled")
	}
	// 25 minutes on the 2-core machine of docs/hardware.md.
	if d, ok := t.Deadline(); testing.Short() || (ok && time.Until(d) < 45*time.Minute) {
		t.Skip("a Tofino compile takes about 25 minutes: run go test ./p4info -run TestTofinoBuild -timeout 60m")
	}
	dir := t.TempDir()
	p4infoFile := filepath.Join(dir, "symdist.p4info.txtpb")
	// The flags of make tofino.
	target := os.Getenv("TOFINO_TARGET")
	if target == "" {
		target = "tofino"
	}
	cmd := exec.CommandContext(t.Context(), compiler, "--target", target, "--arch", "v1model", "-g",
		"-o", dir, "--p4runtime-files", p4infoFile,
		"--bf-rt-schema", filepath.Join(dir, "bf-rt.json"),
		"p4src/symdist.p4")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	checkTofinoP4Info(t, p4infoFile)
	checkFits(t, dir, target)
	// The assembler, as make tofino runs it, and the files it writes.
	bfas := tofinoTool("bfas")
	if bfas == "" {
		t.Log("bfas (the Tofino assembler; make toolchain TOFINO=1) not installed: the build is not assembled")
		return
	}
	assemble(t, bfas, dir, target)
	checkAssembled(t, dir, target)
}

// checkFits fails when a compile in dir placed its tables in more MAU
// stages than the chip has.
func checkFits(t *testing.T, dir, target string) {
	t.Helper()
	used, have, err := tofinoStages(filepath.Join(dir, "pipe", "logs", "resources.json"))
	if err != nil {
		t.Fatal(err)
	}
	if used > have {
		t.Errorf("the Tofino build does not fit %s: its tables need %d MAU stages, the chip has %d", target, used, have)
	}
	t.Logf("the Tofino build uses %d of %s's %d MAU stages", used, target, have)
}

// tofinoStages reads how many MAU stages a Tofino compile placed tables in
// (the last stage holding a logical table, plus one), and
// how many the chip has, from its resources.json (the back end's
// compiler_interfaces/schemas/resources_schema.py: resources.mau.nStages
// and mau_stages[].stage_number). The back end writes the assembly even
// when placement overflows the chip, so a finished compile is not a fit.
func tofinoStages(path string) (used, have int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Resources struct {
			MAU struct {
				NStages   int `json:"nStages"`
				MAUStages []struct {
					StageNumber   int `json:"stage_number"`
					LogicalTables struct {
						IDs []struct {
							TableName string `json:"table_name"`
						} `json:"ids"`
					} `json:"logical_tables"`
				} `json:"mau_stages"`
			} `json:"mau"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	mau := r.Resources.MAU
	if mau.NStages == 0 || len(mau.MAUStages) == 0 {
		return 0, 0, fmt.Errorf("%s: no resources.mau.nStages or mau_stages", path)
	}
	for _, st := range mau.MAUStages {
		if len(st.LogicalTables.IDs) > 0 {
			used = max(used, st.StageNumber+1)
		}
	}
	return used, mau.NStages, nil
}

// tofinoStages on resources.json files in the layout of a real compile's
// (stage table names from one, every other resource cut): placed in 12 of
// 12 stages, over 22 (as the first Tofino compile was), in 9 with the
// last 3 empty, and one with no MAU section.
func TestTofinoStages(t *testing.T) {
	for _, tc := range []struct {
		file       string
		used, have int
	}{
		{"resources-fits.json", 12, 12},
		{"resources-22-stages.json", 22, 12},
		{"resources-empty-tail.json", 9, 12},
	} {
		used, have, err := tofinoStages(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if used != tc.used || have != tc.have {
			t.Errorf("%s: %d of %d stages, want %d of %d", tc.file, used, have, tc.used, tc.have)
		}
	}
	if _, _, err := tofinoStages(filepath.Join("testdata", "resources-no-mau.json")); err == nil {
		t.Error("a resources.json without mau stages was read without error")
	}
}
