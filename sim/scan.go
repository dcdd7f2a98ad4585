// SPDX-License-Identifier: Apache-2.0

package sim

import "sync/atomic"

// What a step does to the rendezvous owners of a group's flows.
const (
	rvNone = iota // nothing changed
	rvInit        // every flow picks among rvNew
	rvLose        // the flows of x pick again among rvNew (x gone or lighter)
	rvGain        // x (new, back or heavier) competes with each flow's owner
)

// scanJob is what a step does to a group's flows.
type scanJob struct {
	old    [numTable]lut // the lookup tables before the step
	hasOld bool
	rvMode int
	rvNew  *Rendezvous
	x      rvCand // the TM of the event: id and weight after (k unused)
	xSeed  uint64
}

// scanChunk is the flows a worker takes at a time.
const scanChunk = 1 << 15

// scan runs a job over the flows of group g: it looks every flow up in
// every scheme's new table (s.luts), updates the rendezvous owners,
// recomputes the flow counts of g's TMs in s.counts and returns the flows
// that moved, per scheme, and (for a job with old tables) the flows of g
// on another TM than at step 0.
func (s *simulator) scan(stage string, g int, job scanJob) (moved, displaced [numSchemes]int64) {
	sp := s.spans[g]
	n := sp.hi - sp.lo
	chunks := (n + scanChunk - 1) / scanChunk
	workers := min(s.workers, max(chunks, 1))
	ntm := len(s.tms)
	type acc struct {
		moved, displaced [numSchemes]int64
		counts           [numSchemes][]int64
	}
	accs := make([]acc, workers)
	for w := range accs {
		for k := range accs[w].counts {
			accs[w].counts[k] = make([]int64, ntm)
		}
	}
	var cur, first [numTable]lut
	for k := range cur {
		cur[k] = s.luts[k][g]
		if job.hasOld {
			first[k] = s.initLuts[k][g]
		}
	}
	wOf := make([]int, ntm)
	seedOf := make([]uint64, ntm)
	for id, t := range s.tms {
		wOf[id], seedOf[id] = t.weight, t.seed
	}
	s.stage(stage, int64(n), func(done *atomic.Int64) {
		parallelChunks(chunks, workers, func(w, c int) {
			a := &accs[w]
			lo := sp.lo + c*scanChunk
			hi := min(lo+scanChunk, sp.hi)
			for k := range numTable {
				newT, oldT, initT := cur[k], job.old[k], first[k]
				cnt := a.counts[k]
				var moved, disp int64
				if job.hasOld {
					for _, h := range s.hashes[lo:hi] {
						b := newT.at(h)
						if oldT.at(h) != b {
							moved++
						}
						if initT.at(h) != b {
							disp++
						}
						if b >= 0 {
							cnt[b]++
						}
					}
				} else {
					for _, h := range s.hashes[lo:hi] {
						if b := newT.at(h); b >= 0 {
							cnt[b]++
						}
					}
				}
				a.moved[k] += moved
				a.displaced[k] += disp
			}
			cnt := a.counts[schRendezvous]
			owners := s.rvOwner[lo:hi]
			var inits []int32
			if job.hasOld {
				inits = s.rvInit[lo:hi]
			}
			x := job.x
			var moved, disp int64
			for i, h := range s.hashes[lo:hi] {
				o := owners[i]
				nw := o
				switch job.rvMode {
				case rvInit:
					nw = job.rvNew.pick(h).id
				case rvLose:
					if o == x.id {
						nw = job.rvNew.pick(h).id
					}
				case rvGain:
					if o != x.id {
						if o < 0 {
							nw = x.id
						} else {
							hm := uint64(h) * golden
							cx := rvCand{id: x.id, w: x.w, k: rvKey(job.xSeed, hm)}
							co := rvCand{id: o, w: wOf[o], k: rvKey(seedOf[o], hm)}
							if cx.beats(co) {
								nw = x.id
							}
						}
					}
				}
				if nw != o {
					owners[i] = nw
					if job.rvMode != rvInit {
						moved++
					}
				}
				if nw >= 0 {
					cnt[nw]++
				}
				if inits != nil && inits[i] != nw {
					disp++
				}
			}
			a.moved[schRendezvous] += moved
			a.displaced[schRendezvous] += disp
			done.Add(int64(hi - lo))
		})
	})
	for id, t := range s.tms {
		if t.group == g {
			for k := range s.counts {
				s.counts[k][id] = 0
			}
		}
	}
	for w := range accs {
		for k := range numSchemes {
			moved[k] += accs[w].moved[k]
			displaced[k] += accs[w].displaced[k]
			for id, c := range accs[w].counts[k] {
				s.counts[k][id] += c
			}
		}
	}
	return moved, displaced
}
