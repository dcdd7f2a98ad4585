// SPDX-License-Identifier: Apache-2.0

package swswitch_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/symdist/symdist/internal/ifswitch"
	"github.com/symdist/symdist/test/testbed"

	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/vectors"
)

// A switch with pipe ports drops what arrives before a pipeline is set,
// then forwards as the model says once a controller has programmed it over
// P4Runtime, and stops cleanly.
func TestSwitchPipes(t *testing.T) {
	var mu sync.Mutex
	var out []uint16
	ports := map[uint16]swswitch.Port{}
	pipes := map[uint16]*swswitch.PipePort{}
	for n := uint16(1); n <= 7; n++ {
		p := swswitch.NewPipePort(func([]byte) {
			mu.Lock()
			out = append(out, n)
			mu.Unlock()
		})
		ports[n], pipes[n] = p, p
	}
	outputs := func() []uint16 {
		mu.Lock()
		defer mu.Unlock()
		o := slices.Clone(out)
		out = nil
		slices.Sort(o)
		return o
	}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Stop()
	ctx := context.Background()

	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	pipes[vectors.PortClient].Inject(frame)
	time.Sleep(100 * time.Millisecond)
	if o := outputs(); len(o) != 0 {
		t.Fatalf("forwarded to %v before any pipeline", o)
	}
	if st := sw.Stats(vectors.PortClient); st.RxFrames.Load() != 1 {
		t.Errorf("rx frames = %d, want 1", st.RxFrames.Load())
	}

	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	if err := testbed.Program(pctx, &ifswitch.Switch{Name: "pipes", Addr: sw.Addr(), DeviceID: 1}); err != nil {
		t.Fatal(err)
	}
	model, _ := swmodel.New(p4info.MustLoad())
	ids, _ := model.Schema().Resolve()
	model.WriteAll(vectors.State(ids))
	for _, pkt := range vectors.Random(300, 3) {
		var res swmodel.Result
		model.Process(pkt.Port, pkt.Frame, &res)
		want := slices.Clone(res.Ports)
		slices.Sort(want)
		pipes[pkt.Port].Inject(pkt.Frame)
		deadline := time.Now().Add(2 * time.Second)
		var got []uint16
		for {
			mu.Lock()
			n := len(out)
			mu.Unlock()
			if n >= len(want) || time.Now().After(deadline) {
				if len(want) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				got = outputs()
				break
			}
			time.Sleep(time.Millisecond)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("packet on port %d left by %v, the model says %v", pkt.Port, got, want)
		}
	}
	sw.Stop() // as symdist switch does on SIGTERM: the ports close
	if err := pipes[1].Inject(frame); !errors.Is(err, swswitch.ErrClosed) {
		t.Errorf("inject after stop: %v, want ErrClosed", err)
	}
}
