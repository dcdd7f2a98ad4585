package lab

import (
	"fmt"
	"testing"
	"time"
)

// connectionsPerSecond is the rate of new connections through every change.
const connectionsPerSecond = 20

// handoverPhases changes the tier while new connections open steadily: a
// TM joins (tm3, never started before), a crashed TM recovers (tm2), a
// weight goes up and down again (tm1: 1 -> 3 -> 1). It returns the counts
// per phase.
func handoverPhases(t *testing.T, l *Lab) []phaseResult {
	var out []phaseResult
	run := func(name string, change func() error) {
		out = append(out, phase(t, l, name, change))
	}
	run("join", func() error { return l.StartTM(3, true) })
	// The crash is not a phase: the connections tm2 had, and the new ones
	// sent to it before the controller noticed, fail with it.
	l.StopTM("tm2")
	if err := l.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	run("recover", func() error { return l.StartTM(2, true) })
	run("weight up", func() error { return l.Controller.SetWeight("tm1", 3) })
	run("weight down", func() error { return l.Controller.SetWeight("tm1", 1) })
	return out
}

type phaseResult struct {
	name string
	Result
}

// phase opens connectionsPerSecond new connections a second from 1 s
// before the change until 1 s after the tier has settled (the switches
// and every TM hold the new table), and counts them.
func phase(t *testing.T, l *Lab, name string, change func() error) phaseResult {
	t.Helper()
	before, _ := l.Controller.Buckets("web")
	steady := l.StartSteady(connectionsPerSecond, 5*time.Second)
	time.Sleep(time.Second)
	start := time.Now()
	err := change()
	if err == nil {
		err = l.WaitReady(30 * time.Second)
	}
	settled := time.Since(start)
	time.Sleep(time.Second)
	res := steady.Stop()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	after, _ := l.Controller.Buckets("web")
	t.Logf("%s: %d of %d new connections failed; the tier settled %v after the change; connections took %v (median), %v (longest)",
		name, res.Failed, res.Connections, settled.Round(time.Millisecond), res.Median.Round(100*time.Microsecond), res.Longest.Round(100*time.Microsecond))
	for i, e := range res.Errors {
		if i == 5 {
			t.Logf("  ... %d more", len(res.Errors)-i)
			break
		}
		moved := ""
		if from := res.FailedFrom[i]; from != nil {
			moved = fmt.Sprintf(" (client bucket: %s before, %s after)", ownerOf(before, from), ownerOf(after, from))
		}
		t.Logf("  %s%s", e, moved)
	}
	return phaseResult{name, res.Result}
}

// With the handover, no new connection fails while TMs join, recover or
// change weight: the TMs that lose buckets stop using their ports before
// the switches move them, and a TM that gains holds its first connections
// until its buckets are confirmed.
func TestLabHandover(t *testing.T) {
	l := startLabWith(t, Options{Prefix: "sh", Switch: "soft", SelfPorts: true, Join: 3})
	for _, p := range handoverPhases(t, l) {
		if p.Failed != 0 || p.Connections < 2*connectionsPerSecond {
			t.Errorf("%s: %d of %d new connections failed, want 0 (logs in %s)", p.name, p.Failed, p.Connections, l.Opts.Dir)
		}
	}
	for i := 1; i <= NumTMs; i++ {
		if st, err := l.TMStats(tmName(i)); err == nil {
			t.Logf("%s: table version %d, %d connections held for a port, %d ports lost, %d gained",
				tmName(i), st.Buckets.Version, st.Connections.WaitedForPort, st.Buckets.Lost, st.Buckets.Gained)
		}
	}
}

// The control run: the same phases with the handover off (the controller
// writes at once, TMs poll every second and fail a connection that finds
// no self port) lose new connections: the test can fail.
func TestLabHandoverOff(t *testing.T) {
	l := startLabWith(t, Options{Prefix: "so", Switch: "soft", SelfPorts: true, Join: 3, NoHandover: true})
	failed, total := 0, 0
	var per []string
	for _, p := range handoverPhases(t, l) {
		failed += p.Failed
		total += p.Connections
		per = append(per, fmt.Sprintf("%s %d", p.name, p.Failed))
	}
	t.Logf("without the handover %d of %d new connections failed (%v)", failed, total, per)
	if failed == 0 {
		t.Errorf("no new connection failed without the handover: the test cannot tell")
	}
}
