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
