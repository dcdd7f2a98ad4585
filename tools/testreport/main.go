// SPDX-License-Identifier: Apache-2.0

// Command testreport reads `go test -json` and tells a person what ran.
//
// Streaming (the default) it prints what go test would: a line per package,
// the output of every failing test and of every package that did not
// build, and a line per skipped test with its reason; --save FILE keeps the
// events for the summary. With --summary FILE... it reads saved events and
// prints the skips grouped by reason and one closing line:
//
//	tests: 498 passed, 0 failed, 41 skipped
//
// It exits 1 when any test or package failed (or the input is not go test's
// JSON), so `make test` can end on it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time    time.Time
	Action  string
	Package string
	// ImportPath names the package of build-output events, as
	// "pkg" or "pkg [pkg.test]".
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

// tally is what a run (or several) came to.
type tally struct {
	passed, failed, skipped int
	badPackages             []string            // failed outside any test: build errors, panics in TestMain
	skips                   map[string][]string // reason -> tests
}

func newTally() *tally { return &tally{skips: map[string][]string{}} }

// fileLine is the "file_test.go:52: " that t.Skip puts before its reason.
var fileLine = regexp.MustCompile(`^\s*[\w./-]+\.go:\d+: `)

// run reads events from r, echoing what a person needs to out when echo
// is set, and adds them to t. Lines that are not JSON (go vet, build
// output on stderr) are echoed as they are.
func (t *tally) run(r io.Reader, out io.Writer, echo bool, save io.Writer) error {
	output := map[string][]string{} // package/test -> its output lines
	testFailed := map[string]bool{} // packages with a failed test
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			if echo {
				fmt.Fprintf(out, "%s\n", line)
			}
			continue
		}
		if save != nil {
			save.Write(line)
			save.Write([]byte{'\n'})
		}
		key := e.Package + "/" + e.Test
		switch e.Action {
		case "output", "build-output":
			if e.Action == "build-output" {
				pkg, _, _ := strings.Cut(e.ImportPath, " ")
				key = pkg + "/"
			}
			output[key] = append(output[key], e.Output)
			continue
		case "pass", "fail", "skip":
		default:
			continue
		}
		lines := output[key]
		delete(output, key)
		if e.Test == "" { // the package
			switch {
			case e.Action == "fail" && testFailed[e.Package]:
				if echo {
					fmt.Fprint(out, lastLine(lines))
				}
			case e.Action == "fail":
				t.badPackages = append(t.badPackages, e.Package)
				if echo {
					// A package that failed outside its tests (it did not build,
					// TestMain or a goroutine panicked): its whole output.
					fmt.Fprint(out, strings.Join(lines, ""))
				}
			case echo:
				fmt.Fprint(out, lastLine(lines))
			}
			continue
		}
		switch e.Action {
		case "pass":
			t.passed++
		case "fail":
			t.failed++
			testFailed[e.Package] = true
			if echo {
				fmt.Fprint(out, strings.Join(lines, ""))
			}
		case "skip":
			t.skipped++
			why := skipReason(lines)
			t.skips[why] = append(t.skips[why], e.Test)
			if echo {
				fmt.Fprintf(out, "    skip %s %s: %s\n", shortPkg(e.Package), e.Test, why)
			}
		}
	}
	return sc.Err()
}

// lastLine is a package's closing line ("ok  pkg 1.2s"), or "".
func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "ok ") || strings.HasPrefix(lines[i], "?") || strings.HasPrefix(lines[i], "FAIL") {
			return lines[i]
		}
	}
	return ""
}

// skipReason is the reason a skipped test gave: its last line of output
// that is not go test's own.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		return strings.TrimSpace(fileLine.ReplaceAllString(lines[i], ""))
	}
	return "(no reason given)"
}

// shortPkg is a package's path inside this module.
func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/symdist/symdist/")
}

// summary prints the skips grouped by reason, the packages that failed
// outside a test, and the closing line.
func (t *tally) summary(out io.Writer) {
	reasons := make([]string, 0, len(t.skips))
	for r := range t.skips {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if a, b := len(t.skips[reasons[i]]), len(t.skips[reasons[j]]); a != b {
			return a > b
		}
		return reasons[i] < reasons[j]
	})
	if len(reasons) > 0 {
		fmt.Fprintln(out, "skipped, by reason:")
	}
	for _, r := range reasons {
		tests := t.skips[r]
		sort.Strings(tests)
		names := strings.Join(tests, ", ")
		if len(tests) > 4 {
			names = strings.Join(tests[:4], ", ") + fmt.Sprintf(" and %d more", len(tests)-4)
		}
		fmt.Fprintf(out, "  %4d  %s (%s)\n", len(tests), r, names)
	}
	for _, p := range t.badPackages {
		fmt.Fprintf(out, "package failed: %s\n", p)
	}
	fmt.Fprintf(out, "tests: %d passed, %d failed, %d skipped\n", t.passed, t.failed+len(t.badPackages), t.skipped)
}

func (t *tally) ok() bool { return t.failed == 0 && len(t.badPackages) == 0 }

func main() {
	save := flag.String("save", "", "also write the events to FILE, for --summary")
	summary := flag.Bool("summary", false, "summarize the saved event files named as arguments")
	flag.Parse()
	t := newTally()
	if *summary {
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testreport:", err)
				os.Exit(2)
			}
			err = t.run(f, io.Discard, false, nil)
			f.Close()
			if err != nil {
				fmt.Fprintf(os.Stderr, "testreport: %s: %v\n", name, err)
				os.Exit(2)
			}
		}
		t.summary(os.Stdout)
	} else {
		var w io.Writer
		if *save != "" {
			f, err := os.Create(*save)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testreport:", err)
				os.Exit(2)
			}
			defer f.Close()
			w = f
		}
		if err := t.run(os.Stdin, os.Stdout, true, w); err != nil {
			fmt.Fprintln(os.Stderr, "testreport: reading go test -json:", err)
			os.Exit(2)
		}
	}
	if !t.ok() {
		os.Exit(1)
	}
}
