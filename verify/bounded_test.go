// SPDX-License-Identifier: Apache-2.0

package verify_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/test/testbed"
	"github.com/symdist/symdist/verify"
	"google.golang.org/grpc"
)

// lyingSwitch runs symdist's program but answers every Read with the same
// bucket entry, a thousand to a message, up to max times.
type lyingSwitch struct {
	p4v1.UnimplementedP4RuntimeServer
	entry *p4v1.Entity
	max   int
}

func (l *lyingSwitch) GetForwardingPipelineConfig(context.Context, *p4v1.GetForwardingPipelineConfigRequest) (*p4v1.GetForwardingPipelineConfigResponse, error) {
	return &p4v1.GetForwardingPipelineConfigResponse{Config: &p4v1.ForwardingPipelineConfig{P4Info: p4info.MustLoad().Info}}, nil
}

func (l *lyingSwitch) Read(_ *p4v1.ReadRequest, s p4v1.P4Runtime_ReadServer) error {
	return testbed.RepeatEntity(s, l.entry, l.max)
}

// verify state against a switch that answers one entry 300,000 times
// fails naming the lie, with the heap bounded.
func TestStateRefusesLyingSwitch(t *testing.T) {
	ids, err := p4info.MustLoad().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	p4v1.RegisterP4RuntimeServer(gs, &lyingSwitch{entry: entries.Builder{IDs: ids}.Bucket(1, 7, 1), max: 300_000})
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base := m.TotalAlloc
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = verify.State(ctx, verify.StateOptions{Targets: []verify.Target{{Name: "liar", Address: ln.Addr().String(), DeviceID: 1}}})
	runtime.ReadMemStats(&m)
	want := "switch liar at " + ln.Addr().String() + ": the switch answered the same entity of table SymdistIngress.tm_select.bucket_table twice"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	// All that was allocated, not only the peak: the bound holds for both.
	if alloc := m.TotalAlloc - base; alloc > 64<<20 {
		t.Errorf("allocated %d MiB reading the switch, want under 64 MiB", alloc>>20)
	} else {
		t.Logf("allocated %.1f MiB", float64(alloc)/(1<<20))
	}
}
