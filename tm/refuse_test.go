// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/adminapi/adminapitest"
	"github.com/symdist/symdist/contract"
	"github.com/symdist/symdist/test/testbed"
)

// A watched table over the contract (131,072 buckets, a 100-byte name) is
// refused: neither applied nor acknowledged, counted in Buckets.Refused;
// the next good table is applied and acknowledged.
func TestWatchRefusesTableOverContract(t *testing.T) {
	f := adminapitest.NewWatch(t, "tm1")
	f.Push(1, adminapi.KindInitial, halfTable())
	a := newEchoBackend(t, "a")
	s, _ := start(t, Config{Backends: []string{a.addr()}, Controller: f.URL})
	f.WaitAck(t, 1)
	long := allTo("tm2")
	long[0] = strings.Repeat("x", 100)
	f.Push(2, adminapi.KindGain, append(allTo("tm1"), make([]string, 2*contract.MaxBuckets-contract.DefaultBuckets)...))
	f.Push(3, adminapi.KindLoss, long)
	f.Push(4, adminapi.KindLoss, allTo("tm2"))
	f.WaitAck(t, 4) // and not 2 or 3 before it
	testbed.Eventually(t, "two refusals counted", 5*time.Second, func() bool { return s.Stats().Buckets.Refused == 2 })
	st := s.Stats().Buckets
	if st.Version != 4 || st.Buckets != contract.DefaultBuckets || st.Owned != 0 {
		t.Errorf("buckets %+v: want version 4 applied, %d buckets, none owned", st, contract.DefaultBuckets)
	}
}

// A buckets file over the contract keeps the TM from starting, saying why.
func TestBucketsFileOverContract(t *testing.T) {
	s, err := New(Config{Name: "tm1", Listen: []string{"127.0.0.1:0"}, SNAT: "127.0.0.1", Log: testLogger(t),
		Backends: []string{"127.0.0.1:1"}, BucketsFile: bucketsFile(t, make([]string, 2*contract.MaxBuckets))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = s.Start(ctx)
	if err == nil {
		cancel()
		<-s.Done()
	}
	if err == nil || !strings.Contains(err.Error(), "131072 buckets: must be a power of two up to 65536") {
		t.Errorf("Start: %v, want the table refused", err)
	}
}
