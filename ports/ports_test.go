// SPDX-License-Identifier: Apache-2.0

package ports

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/symdist/symdist/assign"
	"github.com/symdist/symdist/contract"
)

func table(t testing.TB, names ...string) []string {
	t.Helper()
	var tms []assign.TM
	for _, n := range names {
		tms = append(tms, assign.TM{Name: n, Weight: 1, Up: true})
	}
	at, err := assign.New(4096, tms)
	if err != nil {
		t.Fatal(err)
	}
	return at.Buckets
}

var snat = netip.MustParseAddr("10.3.0.1")

// Every self port's key hashes to a bucket the TM owns, every other port's
// to one it does not; the TMs sharing the address split the ports.
func TestSelfPortsHashToTheirTM(t *testing.T) {
	buckets := table(t, "tm1", "tm2", "tm3")
	total := 0
	for _, tm := range []string{"tm1", "tm2", "tm3"} {
		tab, err := Compute(buckets, tm, snat, 1024)
		if err != nil {
			t.Fatal(err)
		}
		for p := 1024; p < 65536; p++ {
			owner := buckets[contract.Bucket(contract.Hash(contract.Key{Addr: snat, Port: uint16(p)}), 4096)]
			if got := tab.IsOwn(uint16(p)); got != (owner == tm) {
				t.Fatalf("%s: port %d own=%v, but its bucket belongs to %s", tm, p, got, owner)
			}
		}
		if n := tab.Len(); n < 20000 || n > 23000 {
			t.Errorf("%s has %d self ports of 64512, want about a third", tm, n)
		}
		total += tab.Len()
	}
	if total != 65536-1024 {
		t.Errorf("the TMs own %d ports together, want %d", total, 65536-1024)
	}
}

// Allocate never hands out a port twice, only self ports, only above the
// destination port; Release makes it available again.
func TestAllocateRelease(t *testing.T) {
	tab, _ := Compute(table(t, "a", "b"), "a", snat, 1024)
	seen := map[uint16]bool{}
	r := rand.New(rand.NewPCG(3, 4))
	var held []uint16
	for i := 0; i < 50000; i++ {
		if len(held) > 0 && r.IntN(3) == 0 {
			j := r.IntN(len(held))
			if err := tab.Release(held[j]); err != nil {
				t.Fatal(err)
			}
			delete(seen, held[j])
			held = append(held[:j], held[j+1:]...)
			continue
		}
		dst := uint16([]int{80, 443, 8080, 30000}[r.IntN(4)])
		p, err := tab.Allocate(dst)
		if err != nil {
			continue
		}
		if seen[p] || !tab.IsOwn(p) || p <= dst {
			t.Fatalf("Allocate(%d) = %d: in use %v, own %v", dst, p, seen[p], tab.IsOwn(p))
		}
		seen[p] = true
		held = append(held, p)
	}
	if tab.Free() != tab.Len()-len(held) {
		t.Errorf("free = %d, want %d", tab.Free(), tab.Len()-len(held))
	}
	if err := tab.Release(1); err == nil {
		t.Error("releasing a port never handed out succeeded")
	}
}

func TestExhaustion(t *testing.T) {
	tab, _ := Compute(table(t, "a", "b"), "a", snat, 65000)
	n := tab.Len()
	for i := 0; i < n; i++ {
		if _, err := tab.Allocate(80); err != nil {
			t.Fatalf("allocation %d of %d: %v", i, n, err)
		}
	}
	if _, err := tab.Allocate(80); err != ErrExhausted {
		t.Errorf("after %d allocations: %v, want ErrExhausted", n, err)
	}
	if _, err := tab.Allocate(65535); err != ErrExhausted {
		t.Errorf("Allocate(65535) = %v, want ErrExhausted", err)
	}
}

// When another TM fails, a survivor only gains ports, keeps the ones in
// use, and can hand out the new ones.
func TestUpdateFollowsFailover(t *testing.T) {
	tms := []assign.TM{{Name: "a", Weight: 1, Up: true}, {Name: "b", Weight: 1, Up: true}, {Name: "c", Weight: 1, Up: true}}
	at, _ := assign.New(4096, tms)
	tab, _ := Compute(at.Buckets, "a", snat, 1024)
	before := tab.Len()
	p, _ := tab.Allocate(80)
	tms[1].Up = false
	if _, err := at.Apply(tms); err != nil {
		t.Fatal(err)
	}
	gained, lost, err := tab.Update(at.Buckets)
	if err != nil {
		t.Fatal(err)
	}
	if lost != 0 || gained == 0 || tab.Len() != before+gained {
		t.Errorf("gained %d, lost %d, len %d -> %d", gained, lost, before, tab.Len())
	}
	if err := tab.Release(p); err != nil {
		t.Errorf("port in use before the update: %v", err)
	}
	if tab.Free() != tab.Len() {
		t.Errorf("free %d, len %d", tab.Free(), tab.Len())
	}
}

func TestRanges(t *testing.T) {
	tests := []struct {
		in   []uint16
		want string
	}{
		{nil, ""},
		{[]uint16{5}, "5"},
		{[]uint16{1, 2, 3, 7, 9, 10}, "1-3,7,9-10"},
		{[]uint16{65534, 65535}, "65534-65535"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			if got := Ranges(tt.in); got != tt.want {
				t.Errorf("Ranges(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestComputeErrors(t *testing.T) {
	if _, err := Compute(make([]string, 100), "a", snat, 1024); err == nil {
		t.Error("100 buckets accepted")
	}
	if _, err := Compute(make([]string, 4096), "a", netip.Addr{}, 1024); err == nil {
		t.Error("no SNAT address accepted")
	}
}

// Computing a TM's table for the whole 64K range.
func BenchmarkCompute(b *testing.B) {
	buckets := table(b, "a", "b", "c", "d")
	for b.Loop() {
		Compute(buckets, "a", snat, 1)
	}
}

func BenchmarkAllocateRelease(b *testing.B) {
	tab, _ := Compute(table(b, "a", "b", "c", "d"), "a", snat, 1024)
	b.ReportAllocs()
	for b.Loop() {
		p, _ := tab.Allocate(80)
		tab.Release(p)
	}
}

// A held port is not handed out until released.
func TestHold(t *testing.T) {
	buckets := make([]string, 16)
	for i := range buckets {
		buckets[i] = "tm1"
	}
	tab, err := Compute(buckets, "tm1", netip.MustParseAddr("10.3.0.1"), 60000)
	if err != nil {
		t.Fatal(err)
	}
	const p = 60001
	if !tab.Hold(p) {
		t.Fatalf("Hold(%d) of a free port = false", p)
	}
	if tab.Hold(p) {
		t.Fatalf("Hold(%d) twice = true", p)
	}
	for range tab.Free() + 1 {
		got, err := tab.Allocate(80)
		if err != nil {
			break
		}
		if got == p {
			t.Fatalf("Allocate handed out the held port %d", p)
		}
	}
	if err := tab.Release(p); err != nil {
		t.Fatal(err)
	}
	if tab.Free() != 1 {
		t.Fatalf("after releasing the held port, %d free, want 1", tab.Free())
	}
}

// A gained port another TM still uses (reserved) is never handed out,
// in the same update that gains it; the loser reports the ports it still
// uses in buckets it lost.
func TestUpdateReserved(t *testing.T) {
	before := table(t, "tm1", "tm2")
	after := table(t, "tm1", "tm2", "tm3") // tm3 joins: tm1 and tm2 lose to it
	tm1, err := Compute(before, "tm1", snat, 1024)
	if err != nil {
		t.Fatal(err)
	}
	var used []uint16
	for range 200 {
		p, err := tm1.Allocate(80)
		if err != nil {
			t.Fatal(err)
		}
		used = append(used, p)
	}
	if _, _, err := tm1.Update(after); err != nil {
		t.Fatal(err)
	}
	lostInUse := tm1.InUseNotOwn()
	var want []uint16
	for _, p := range used {
		if !tm1.IsOwn(p) {
			want = append(want, p)
		}
	}
	if len(want) == 0 || fmt.Sprint(lostInUse) != fmt.Sprint(sortedCopy(want)) {
		t.Fatalf("InUseNotOwn = %v, want the ports tm1 uses that are no longer its own: %v", lostInUse, want)
	}

	tm3, _ := Compute(before, "tm3", snat, 1024)
	if _, _, err := tm3.UpdateReserved(after, lostInUse); err != nil {
		t.Fatal(err)
	}
	reserved := map[uint16]bool{}
	for _, p := range lostInUse {
		reserved[p] = true
	}
	for {
		p, err := tm3.Allocate(80)
		if err != nil {
			break
		}
		if reserved[p] {
			t.Fatalf("tm3 handed out port %d, which tm1 still uses", p)
		}
	}
	if got, wantFree := tm3.Len()-len(lostInUse), 0; tm3.Free() != wantFree || got <= 0 {
		t.Fatalf("after allocating everything: %d free, want 0 (of %d usable)", tm3.Free(), got)
	}
	if rp := tm3.ReservedPorts(1024, 65535); !containsAll(rp, lostInUse) {
		t.Error("ReservedPorts leaves out ports another TM still uses: the kernel would pick them")
	}
	// A later table without them frees them.
	if _, _, err := tm3.UpdateReserved(after, nil); err != nil {
		t.Fatal(err)
	}
	ownReserved := 0
	for _, p := range lostInUse {
		if tm3.IsOwn(p) {
			ownReserved++
		}
	}
	if ownReserved == 0 || tm3.Free() != ownReserved {
		t.Fatalf("%d free after the reservation ended, want the %d reserved ports that are tm3's", tm3.Free(), ownReserved)
	}
}

func sortedCopy(p []uint16) []uint16 {
	out := append([]uint16(nil), p...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func containsAll(have, want []uint16) bool {
	m := map[uint16]bool{}
	for _, p := range have {
		m[p] = true
	}
	for _, p := range want {
		if !m[p] {
			return false
		}
	}
	return true
}

func TestParseRanges(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []uint16
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "80", want: []uint16{80}},
		{in: "8194,9000-9002", want: []uint16{8194, 9000, 9001, 9002}},
		{in: "5,5,4-6", want: []uint16{5, 4, 6}},
		{in: "65535", want: []uint16{65535}},
		{in: "0", wantErr: true},
		{in: "65536", wantErr: true},
		{in: "9-8", wantErr: true},
		{in: "1,,2", wantErr: true},
		{in: "1-", wantErr: true},
		{in: "a", wantErr: true},
		{in: "-1", wantErr: true},
	} {
		got, err := ParseRanges(tc.in)
		if (err != nil) != tc.wantErr || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseRanges(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	// Round trip.
	p := []uint16{1, 2, 3, 7, 9, 10, 65535}
	if got, err := ParseRanges(Ranges(p)); err != nil || fmt.Sprint(got) != fmt.Sprint(p) {
		t.Errorf("ParseRanges(Ranges(%v)) = %v, %v", p, got, err)
	}
}
