// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// With equal weights every TM holds the floor or the ceil of B/N buckets
// (contract section 6), so the table's imbalance is ceil(B/N) / (B/N).
func TestSweepTMs(t *testing.T) {
	tms, buckets := []int{1, 3, 10, 100, 1000}, []int{4096, 65536}
	sw, err := SweepTMs(tms, buckets)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range sw.Points {
		for j, b := range buckets {
			fair := float64(b) / float64(tms[i])
			if want := math.Ceil(fair) / fair; math.Abs(p.Imbalance[j]-want) > 1e-9 {
				t.Errorf("N=%d B=%d: imbalance %.6f, want %.6f", p.TMs, b, p.Imbalance[j], want)
			}
		}
	}
	// The case: 1,000 TMs within 1% needs B = 65,536.
	if last := sw.Points[len(sw.Points)-1]; last.Imbalance[0] < 1.2 || last.Imbalance[1] > 1.01 {
		t.Errorf("N=1000: imbalance %v at B=4096, 65536; want over 1.2 and within 1.01", last.Imbalance)
	}
	var out bytes.Buffer
	if err := writeTMSweep(&out, sw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1000  1.2207   1.0071") {
		t.Errorf("report lacks the N=1000 row:\n%s", out.String())
	}
	if _, err := tmSweepPlot(sw); err != nil {
		t.Fatal(err)
	}
}

func TestSweepTMsRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ tms, buckets []int }{{[]int{0}, []int{16}}, {[]int{4}, []int{12}}} {
		if _, err := SweepTMs(c.tms, c.buckets); err == nil {
			t.Errorf("SweepTMs(%v, %v) succeeded", c.tms, c.buckets)
		}
	}
}
