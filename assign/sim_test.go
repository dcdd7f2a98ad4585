package assign

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSimForced(t *testing.T) {
	for _, cfg := range []struct{ b, n, w, seqs, evs int }{{64, 40, 10, 200, 50}, {4096, 40, 100, 200, 50}, {4096, 1000, 10, 5, 200}, {4096, 40, 3, 200, 50}, {64, 10, 3, 200, 50}, {16, 10, 3, 200, 50}} {
		r := rand.New(rand.NewPCG(1, 2))
		conflicts, events := 0, 0
		for range cfg.seqs {
			var tms []TM
			n := 1 + r.IntN(cfg.n)
			for i := range n {
				tms = append(tms, TM{fmt.Sprintf("tm%d", i), 1 + r.IntN(cfg.w), true})
			}
			tb, _ := New(cfg.b, tms)
			next := n
			for range cfg.evs {
				nt := append([]TM(nil), tms...)
				i := r.IntN(len(nt) + 1)
				switch k := r.IntN(4); {
				case i == len(nt) || k == 0:
					nt = append(nt, TM{fmt.Sprintf("tm%d", next), 1 + r.IntN(cfg.w), true})
					next++
				case k == 1:
					nt[i].Up = !nt[i].Up
				case k == 2:
					nt[i].Weight = 1 + r.IntN(cfg.w)
				case k == 3:
					nt = append(nt[:i], nt[i+1:]...)
				}
				before := tb.Clone()
				ms, dir := members(before.Buckets, sortedTMs(tms), sortedTMs(nt))
				f := plan(cfg.b, ms, dir, false)
				if f > 0 {
					conflicts++
				}
				events++
				if _, err := tb.Apply(nt); err != nil {
					t.Fatal(err)
				}
				if err := Check(tb, nt); err != nil {
					t.Fatal(err)
				}
				if err := CheckMovement(before, tb, tms, nt); err != nil {
					t.Fatal(err)
				}
				tms = nt
			}
		}
		t.Logf("%+v: %d conflicts in %d events", cfg, conflicts, events)
	}
}
