// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
)

// The files a switch loads, as make tofino leaves them after the assembler
// (docs/hardware.md): pipe/TARGET.bin read back by the assembler's own
// tools, and context.json and bf-rt.json naming every table, action,
// action profile and counter of the P4Info with its size.

// tofinoTool is one of the Tofino back end's tools (bfas, bfdumpbin,
// bfdis): beside p4c-barefoot, else on PATH.
func tofinoTool(name string) string {
	if c := tofinoCompiler(); c != "" {
		if p := filepath.Join(filepath.Dir(c), name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// tofinoOutDir is where make tofino writes a target's build;
// $SYMDIST_TOFINO_OUT/TARGET when that is set.
func tofinoOutDir(target string) string {
	if d := os.Getenv("SYMDIST_TOFINO_OUT"); d != "" {
		return filepath.Join(d, target)
	}
	return filepath.Join("..", "out", "tofino", target)
}

// assemble runs bfas on a compile's assembly as make tofino does.
func assemble(t *testing.T, bfas, dir, target string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bfas, "--target", target, "--table-handle-offset0",
		"-o", filepath.Join(dir, "pipe"), filepath.Join(dir, "pipe", "symdist.bfa"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// The builds make tofino and make tofino TOFINO_TARGET=tofino2 left.
func TestTofinoAssembled(t *testing.T) {
	for _, target := range []string{"tofino", "tofino2"} {
		t.Run(target, func(t *testing.T) {
			dir := tofinoOutDir(target)
			if !fileExists(filepath.Join(dir, "pipe", target+".bin")) {
				t.Skipf("no assembled %s build in %s (make tofino TOFINO_TARGET=%s; bfas: make toolchain TOFINO=1)", target, dir, target)
			}
			t.Run("P4Info", func(t *testing.T) { checkTofinoP4Info(t, filepath.Join(dir, "symdist.p4info.txtpb")) })
			t.Run("fits", func(t *testing.T) { checkFits(t, dir, target) })
			checkAssembled(t, dir, target)
		})
	}
}

// checkAssembled checks an assembled build in dir.
func checkAssembled(t *testing.T, dir, target string) {
	bin := filepath.Join(dir, "pipe", target+".bin")
	for _, tool := range []string{"bfdumpbin", "bfdis"} {
		t.Run(tool, func(t *testing.T) {
			p := tofinoTool(tool)
			if p == "" {
				t.Skipf("%s (built with bfas by make toolchain TOFINO=1) not installed: %s is not read back", tool, bin)
			}
			readBack(t, p, bin)
		})
	}
	info := MustLoad().Info
	t.Run("context.json", func(t *testing.T) {
		checkNames(t, filepath.Join(dir, "pipe", "context.json"), info, "actions")
	})
	t.Run("bf-rt.json", func(t *testing.T) {
		checkNames(t, filepath.Join(dir, "bf-rt.json"), info, "action_specs")
	})
	t.Run("parser branches", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "pipe", "symdist.bfa"))
		if err != nil {
			t.Fatal(err)
		}
		if msg := parserBranchFault(string(b)); msg != "" {
			t.Errorf("symdist.bfa: %s", msg)
		}
	})
}

// parserBranchFault says what is wrong with the ingress parser of an
// assembly (the compiler's .bfa, what bfas assembles), or "". A state with
// more than one transition must say what it matches on ("match: [ half ]"),
// else its transitions are bare "*" and only the first can ever be taken;
// and symdist's parser, all selects, must match somewhere.
// p4c v1.2.5.16 unpatched (p4c#5753) emits exactly that for every select
// of the program; the names, sizes and the read-back all still pass. (The
// match_registers of context.json do not show it: they are filled for
// parser value sets only.)
func parserBranchFault(bfa string) string {
	var bad []string
	states, matching, state, patterns, match := 0, 0, "", 0, false
	end := func() {
		if state != "" && patterns > 1 && !match {
			bad = append(bad, fmt.Sprintf("%s (%d transitions)", state, patterns))
		}
	}
	in := false
	for _, l := range strings.Split(bfa, "\n") {
		switch {
		case l == "parser ingress:":
			in = true
		case in && l != "" && l[0] != ' ':
			in = false
		case !in:
		case strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "     ") && strings.HasSuffix(l, ":"):
			end()
			states++
			state, patterns, match = strings.TrimSpace(strings.TrimSuffix(l, ":")), 0, false
		case strings.HasPrefix(l, "      match:"):
			match = true
			matching++
		case strings.HasPrefix(l, "      ") && !strings.HasPrefix(l, "       ") && strings.HasSuffix(l, ":"):
			patterns++
		}
	}
	end()
	if states == 0 {
		return "no ingress parser states"
	}
	if matching == 0 {
		// The broken compiler also merges a state into the next when it
		// thinks it matches on nothing: then no state has two transitions.
		return fmt.Sprintf("none of %d ingress parser states matches on anything: every select of the program is lost", states)
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d of %d ingress parser states have several transitions but no match, so only their first is ever taken: %s", len(bad), states, strings.Join(bad, ", "))
	}
	return ""
}

// readBack runs bfdumpbin or bfdis on a binary: it must read it to the end
// (exit 0, no parse error) and find configuration in it. bfdumpbin prints
// one line per record of the binary, typed by its first letter (R a
// register write, B a block write, D a DMA block, S selected writes, P a
// parser handle). bfdis decodes every write into the chip's register
// model; with -T*:1 it logs each register it sets by name
// ("ubits:1:memories.top.pipes[0].i_prsr[0].ml_tcam_row_word0[192]...
// = 65535"), so its count is by block (memories.top.pipes[0].i_prsr, ...),
// and the ingress parser's (i_prsr; Tofino 2: parde.i_prsr_mem) must be
// among them. The counts are logged.
func readBack(t *testing.T, tool, bin string) {
	dis := filepath.Base(tool) == "bfdis"
	args := []string{bin}
	if dis {
		args = []string{"-T*:1", bin}
	}
	cmd := exec.CommandContext(t.Context(), tool, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, tail(stderr.String()))
	}
	if strings.Contains(stderr.String(), "Parse error") || strings.Contains(stderr.String(), "Unknown file format") {
		t.Fatalf("%s: %s", cmd, tail(stderr.String()))
	}
	out := &stdout
	if dis {
		out = &stderr
	}
	kinds := map[string]int{}
	lines, ingressParser := 0, 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == ' ' {
			continue
		}
		if dis {
			// [time:]source:level:register = value
			lhs, _, ok := strings.Cut(l, " = ")
			if !ok {
				continue
			}
			name := lhs[strings.LastIndexByte(lhs, ':')+1:]
			// memories.top.pipes[0].i_prsr[0].x -> memories.top.pipes[0].i_prsr
			parts := strings.SplitN(name, ".", 5)
			if len(parts) > 4 {
				parts = parts[:4]
			}
			last := parts[len(parts)-1]
			if i := strings.IndexByte(last, '['); i >= 0 {
				parts[len(parts)-1] = last[:i]
			}
			block := strings.Join(parts, ".")
			lines++
			kinds[block]++
			if strings.Contains(name, ".i_prsr") { // Tofino 1 i_prsr, Tofino 2 parde.i_prsr_mem
				ingressParser++
			}
			continue
		}
		lines++
		kinds[l[:1]]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines == 0 {
		t.Fatalf("%s printed nothing of %s", cmd, bin)
	}
	if dis {
		if ingressParser == 0 {
			t.Errorf("%s set no register of the ingress parser (i_prsr): %v", cmd, kinds)
		}
	}
	t.Logf("%s %s: %d records by kind %v", filepath.Base(tool), filepath.Base(bin), lines, kinds)
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// compiledTable is a table of context.json or bf-rt.json: both list every
// table (match, action data or profile, counter) at the top level with its
// P4 name and size; a match table's actions are under "actions"
// (context.json) or "action_specs" (bf-rt.json).
type compiledTable struct {
	Name        string                  `json:"name"`
	Size        int64                   `json:"size"`
	TableType   string                  `json:"table_type"`
	Actions     []struct{ Name string } `json:"actions"`
	ActionSpecs []struct{ Name string } `json:"action_specs"`
}

// named finds the table whose name is the P4Info's, or ends with "." and
// it (bf-rt.json puts the pipe's name in front: pipe.SymdistIngress...).
func named(tables []compiledTable, name string) *compiledTable {
	for i := range tables {
		if n := tables[i].Name; n == name || strings.HasSuffix(n, "."+name) {
			return &tables[i]
		}
	}
	return nil
}

func hasAction(names []struct{ Name string }, name string) bool {
	for _, a := range names {
		if a.Name == name || strings.HasSuffix(a.Name, "."+name) {
			return true
		}
	}
	return false
}

// checkNames holds a compiled JSON file against the P4Info: every table,
// action profile and counter there by name with the P4Info's size, every
// action of a table among its actions (or its action profile's).
func checkNames(t *testing.T, path string, info *p4configv1.P4Info, actionsKey string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tables []compiledTable `json:"tables"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Tables) == 0 {
		t.Fatalf("%s: no tables", path)
	}
	actions := func(ct *compiledTable) []struct{ Name string } {
		if actionsKey == "actions" {
			return ct.Actions
		}
		return ct.ActionSpecs
	}
	actionName := map[uint32]string{}
	for _, a := range info.GetActions() {
		actionName[a.GetPreamble().GetId()] = a.GetPreamble().GetName()
	}
	profiles := map[uint32]string{}
	for _, ap := range info.GetActionProfiles() {
		profiles[ap.GetPreamble().GetId()] = ap.GetPreamble().GetName()
	}
	base := filepath.Base(path)
	check := func(kind, name string, size int64) *compiledTable {
		ct := named(f.Tables, name)
		if ct == nil {
			t.Errorf("%s names no %s %s", base, kind, name)
			return nil
		}
		if ct.Size != size {
			t.Errorf("%s: %s %s has size %d, the P4Info %d", base, kind, ct.Name, ct.Size, size)
		}
		return ct
	}
	for _, tb := range info.GetTables() {
		name := tb.GetPreamble().GetName()
		ct := check("table", name, tb.GetSize())
		if ct == nil {
			continue
		}
		have := actions(ct)
		if prof, ok := profiles[tb.GetImplementationId()]; ok && len(have) == 0 {
			// An indirect table: bf-rt.json lists the actions on its profile.
			if pt := named(f.Tables, prof); pt != nil {
				have = actions(pt)
			}
		}
		for _, ref := range tb.GetActionRefs() {
			a := actionName[ref.GetId()]
			if !hasAction(have, a) {
				t.Errorf("%s: table %s has no action %s", base, ct.Name, a)
			}
		}
	}
	for _, ap := range info.GetActionProfiles() {
		check("action profile", ap.GetPreamble().GetName(), ap.GetSize())
	}
	for _, c := range info.GetCounters() {
		check("counter", c.GetPreamble().GetName(), c.GetSize())
	}
	t.Logf("%s: %d tables in all; the P4Info's %d tables, %d action profiles and %d counters found with their sizes and actions",
		base, len(f.Tables), len(info.GetTables()), len(info.GetActionProfiles()), len(info.GetCounters()))
}

// The parser check on assemblies as the broken and the fixed compiler
// write them (cut down from symdist's).
func TestParserBranchFault(t *testing.T) {
	const fixed = `parser ingress:
  start: $init_match
  states:
    $init_match:
      *:
        load: { half : 12..13 }
        next: parse_ethernet
    parse_ethernet:
      match: [ half ]
      0x0800:
        shift: 14
        next: parse_ipv4
      0x****:
        next: end
    parse_ipv4:
      *:
        next: end
deparser ingress:
  pov: [ B0 ]
`
	broken := strings.Replace(strings.Replace(fixed, "      match: [ half ]\n", "", 1), "0x0800:", "*:", 1)
	broken = strings.Replace(broken, "0x****:", "*:", 1)
	for _, tc := range []struct {
		name, bfa string
		fault     bool
	}{
		{"fixed", fixed, false},
		{"broken (p4c#5753)", broken, true},
		{"no parser", "version:\n  target: Tofino\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parserBranchFault(tc.bfa); (got != "") != tc.fault {
				t.Errorf("fault %q, want a fault: %v", got, tc.fault)
			}
		})
	}
}
