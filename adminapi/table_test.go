// SPDX-License-Identifier: Apache-2.0

package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/heap"

	"github.com/google/go-cmp/cmp"
	"github.com/symdist/symdist/contract"
)

// names returns n buckets owned in turn by tm1 and tm2.
func names(n int) []string {
	b := make([]string, n)
	for i := range b {
		b[i] = fmt.Sprintf("tm%d", 1+i%2)
	}
	return b
}

func TestTableCheck(t *testing.T) {
	long := strings.Repeat("t", contract.MaxNameLen)
	tests := []struct {
		name    string
		bt      BucketTable
		wantErr string // "" when the table passes
	}{
		{"4096 buckets", BucketTable{Group: "web", Buckets: names(4096)}, ""},
		{"65,536 buckets with names of 64 bytes", BucketTable{Buckets: func() []string {
			b := names(contract.MaxBuckets)
			b[0] = long
			return b
		}()}, ""},
		{"moving buckets", BucketTable{Buckets: []string{"tm1", "", "", "tm2"}}, ""},
		{"131,072 buckets", BucketTable{Buckets: names(2 * contract.MaxBuckets)}, "131072 buckets: must be a power of two up to 65536"},
		{"not a power of two", BucketTable{Buckets: names(3)}, "3 buckets"},
		{"a name of 65 bytes", BucketTable{Buckets: []string{long + "x", "tm1"}}, "bucket 0: name of 65 bytes (at most 64)"},
		{"a name JSON escapes", BucketTable{Buckets: []string{"tm1", "<tm>"}}, "bucket 1: name \"<tm>\" holds one of"},
		{"a control character", BucketTable{Buckets: []string{"tm1", "tm\n"}}, "control character"},
		{"a chain past the table", BucketTable{Buckets: names(4), Chains: []Chain{{Bucket: 4, Previous: "tm1"}}}, "chain 0: bucket 4 of 4"},
		{"five chains per bucket", BucketTable{Buckets: names(1), Chains: make([]Chain, 5)}, "5 chains for 1 buckets"},
		{"a chain to no one", BucketTable{Buckets: names(2), Chains: []Chain{{Bucket: 1}}}, "chain 0: empty name"},
		{"a peer with a long name", BucketTable{Buckets: names(2), Peers: []Peer{{TM: long + "x"}}}, "peer 0: name of 65 bytes"},
		{"too many peers", BucketTable{Buckets: names(2), Peers: make([]Peer, MaxPeers+1)}, "1025 peers"},
		{"held ports", BucketTable{Buckets: names(2), Held: []Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: "8194,9000-9002"}}}, ""},
		{"held ports that do not parse", BucketTable{Buckets: names(2), Held: []Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: "9-8"}}}, "held 0: port ranges"},
		{"held ports of no address", BucketTable{Buckets: names(2), Held: []Held{{TM: "tm1", SNAT: "x", Ports: "80"}}}, "held 0: SNAT address"},
		{"held ports of a bad name", BucketTable{Buckets: names(2), Held: []Held{{TM: "<", SNAT: "10.3.0.1", Ports: "80"}}}, "held 0: name"},
		{"too many held entries", BucketTable{Buckets: names(2), Held: make([]Held, MaxHeld+1)}, "1025 held-port entries"},
		{"held ports too long", BucketTable{Buckets: names(2), Held: []Held{{TM: "tm1", SNAT: "10.3.0.1", Ports: strings.Repeat("1,", MaxHeldPortsBytes/2+1)}}}, "held ports over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.bt.Check()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("got %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadTable) {
				t.Errorf("got %v, want ErrBadTable with %q", err, tt.wantErr)
			}
		})
	}
}

// The largest table the bounds allow fits MaxTableBytes, as the
// controller writes it.
func TestMaxTableBytes(t *testing.T) {
	n := func(i int) string { return fmt.Sprintf("%0*d", contract.MaxNameLen, i) }
	bt := BucketTable{Group: n(0)}
	for i := range contract.MaxBuckets {
		bt.Buckets = append(bt.Buckets, n(i))
		for range 4 {
			bt.Chains = append(bt.Chains, Chain{Bucket: i, Previous: n(i), LeftMS: -1 << 63})
		}
	}
	for i := range MaxPeers {
		p := Peer{TM: n(i), MACs: map[string]string{}}
		for s := range MaxPeerMACs {
			p.MACs[n(s)] = strings.Repeat("f", maxMACLen)
		}
		bt.Peers = append(bt.Peers, p)
	}
	if err := bt.Check(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Event{Type: EventTable, Version: 1 << 63, Kind: "initial", Group: bt.Group, Buckets: bt.Buckets, Chains: bt.Chains, Peers: bt.Peers})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxTableBytes {
		t.Errorf("the largest table is %d bytes of JSON, over MaxTableBytes %d", len(b), MaxTableBytes)
	}
	t.Logf("largest table %d bytes, MaxTableBytes %d", len(b), MaxTableBytes)
}

// A buckets file over the contract (more than 65,536 buckets, an 80 MB
// name, a file over MaxTableBytes) or not strictly one table is refused,
// with a bounded heap.
func TestReadTableFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	js := func(bt BucketTable) string {
		b, err := json.Marshal(bt)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	huge := `{"group":"web","buckets":["` + strings.Repeat("a", 80<<20) + `","tm1"]}`
	tests := []struct {
		name    string
		body    string
		want    []string // the buckets, when taken
		wantErr string
	}{
		{"a table", `{"group":"web","buckets":["tm1","tm2"]}`, []string{"tm1", "tm2"}, ""},
		{"131,072 buckets", js(BucketTable{Group: "web", Buckets: names(2 * contract.MaxBuckets)}), nil, "131072 buckets"},
		{"an 80 MB name", huge, nil, "more than a table can be"},
		{"a name of 65 bytes", js(BucketTable{Buckets: []string{strings.Repeat("a", 65), "tm1"}}), nil, "name of 65 bytes"},
		{"a key twice", `{"group":"web","buckets":["tm1","tm2"],"buckets":["tm1"]}`, nil, "duplicate"},
		{"an unknown field", `{"group":"web","buckets":["tm1","tm2"],"bukets":[]}`, nil, "unknown field"},
		{"two tables", `{"buckets":["tm1","tm2"]}{"buckets":["tm2","tm1"]}`, nil, "after the JSON value"},
		{"no buckets", `{"group":"web"}`, nil, "no buckets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tt.name, " ", "_")+".json", tt.body)
			var bt BucketTable
			var err error
			grew := heap.Peak(func() { bt, err = ReadTableFile(p) })
			t.Logf("peak heap %.1f MiB", float64(grew)/(1<<20))
			if grew > 64<<20 {
				t.Errorf("peak heap %d MiB, want under 64 MiB", grew>>20)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %d buckets, error %v; want %q", len(bt.Buckets), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, bt.Buckets); diff != "" {
				t.Errorf("buckets (-want +got):\n%s", diff)
			}
		})
	}
}

// A watched table over the contract is neither applied nor acknowledged;
// the stream goes on and the next good table is both.
func TestFollowerRefusesBadTable(t *testing.T) {
	bad := func(v int, buckets []string) string {
		b, _ := json.Marshal(Event{Type: EventTable, Group: "web", Version: uint64(v), Kind: "gain", Buckets: buckets})
		return string(b)
	}
	c, acks := scripted(t, false, []string{hello, table(1, "initial"),
		bad(2, names(2*contract.MaxBuckets)),
		bad(3, []string{strings.Repeat("a", 100), "tm1"}),
		table(4, "gain")})
	var mu sync.Mutex
	var got []uint64
	var errs []error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := Follower{Client: c, TM: "tm1",
		Apply:   func(ev Event) error { mu.Lock(); got = append(got, ev.Version); mu.Unlock(); return nil },
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
	go f.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := acks.Load("s1/4"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("table 4 never acknowledged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]uint64{1, 4}, got); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	for _, v := range []int{2, 3} {
		if _, ok := acks.Load(fmt.Sprintf("s1/%d", v)); ok {
			t.Errorf("table %d acknowledged", v)
		}
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrBadTable) || !errors.Is(errs[1], ErrBadTable) {
		t.Errorf("errors %v, want two ErrBadTable", errs)
	}
}
