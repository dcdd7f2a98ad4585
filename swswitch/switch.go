// SPDX-License-Identifier: Apache-2.0

// Package swswitch is the software switch: the Go model of the pipeline
// (swmodel) served over P4Runtime (p4rtserver) and moving frames on ports,
// which are Linux interfaces (AF_PACKET) or in-process pipes.
//
// Listen runs one: `symdist switch`, the demo, the lab, the benchmarks and
// the tests all start a switch through it. A switch holds no pipeline until
// a controller pushes one, and drops the frames it receives before that.
// Served.Stop is the CLI's SIGTERM path: every open P4Runtime stream ends
// with UNAVAILABLE (a controller sees at once that the switch is gone), the
// ports close, and RPCs still running after DefaultStopGrace are cut, so
// the switch exits even while a controller holds a stream open or a client
// leaves a Read unread. Kill is a crash, for tests.
//
// On a Linux interface the kernel strips VLAN tags; the switch puts them
// back from the packet metadata (PACKET_AUXDATA, or the ring's frame
// header), as libpcap does.
package swswitch

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/swmodel"
)

// PortStats counts frames on one port.
type PortStats struct {
	RxFrames, TxFrames, TxErrors atomic.Uint64
}

// Switch is one software switch.
type Switch struct {
	srv   *p4rtserver.Server
	ports map[uint16]Port
	stats map[uint16]*PortStats
	log   *slog.Logger

	noPipeline atomic.Uint64 // frames dropped before a pipeline was set
	pool       sync.Pool     // *swmodel.Result
}

// New returns a switch serving deviceID with the given ports (port number
// -> port).
func New(deviceID uint64, ports map[uint16]Port, log *slog.Logger) *Switch {
	s := &Switch{ports: ports, stats: map[uint16]*PortStats{}, log: log}
	for n := range ports {
		s.stats[n] = &PortStats{}
	}
	s.pool.New = func() any { return &swmodel.Result{} }
	s.srv = p4rtserver.New(p4rtserver.Config{DeviceID: deviceID, Logger: log, Inject: s.Receive})
	return s
}

// Server is the switch's P4Runtime server, to register on a grpc.Server.
func (s *Switch) Server() *p4rtserver.Server { return s.srv }

// Stats returns the counters of a port, or nil.
func (s *Switch) Stats(port uint16) *PortStats { return s.stats[port] }

// Receive runs one frame received on port through the pipeline and sends
// what comes out. Safe for concurrent use.
func (s *Switch) Receive(port uint16, frame []byte) { s.receive(port, frame, false) }

// receive is Receive; with queue, frames for a BatchPort are queued for
// the caller's next flush instead of sent one by one.
func (s *Switch) receive(port uint16, frame []byte, queue bool) {
	if st := s.stats[port]; st != nil {
		st.RxFrames.Add(1)
	}
	p := s.srv.Pipeline()
	if p == nil {
		s.noPipeline.Add(1)
		return
	}
	res := s.pool.Get().(*swmodel.Result)
	defer s.pool.Put(res)
	p.Process(port, frame, res)
	for _, out := range res.Ports {
		dst, ok := s.ports[out]
		if !ok {
			continue // no such port on this switch: the frame is lost, as on hardware
		}
		st := s.stats[out]
		var err error
		if bp, ok := dst.(BatchPort); ok && queue {
			err = bp.Queue(res.Frame)
		} else {
			err = dst.Write(res.Frame)
		}
		if err != nil {
			st.TxErrors.Add(1)
			continue
		}
		st.TxFrames.Add(1)
	}
}

// Run reads every port until ctx ends, then closes them.
func (s *Switch) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	numbers := make([]int, 0, len(s.ports))
	for n := range s.ports {
		numbers = append(numbers, int(n))
	}
	sort.Ints(numbers)
	for _, n := range numbers {
		port, p := uint16(n), s.ports[uint16(n)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if bp, ok := p.(BatchPort); ok {
				s.readBatches(ctx, port, bp)
				return
			}
			buf := make([]byte, 65536)
			for {
				k, err := p.Read(buf)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
						s.log.Error("port read failed", "port", port, "error", err)
					}
					return
				}
				s.Receive(port, buf[:k])
			}
		}()
	}
	<-ctx.Done()
	for _, p := range s.ports {
		p.Close()
	}
	wg.Wait()
	return nil
}

// readBatches reads a BatchPort: every frame of a wake-up through the
// pipeline, the outputs queued, then one flush of every BatchPort before
// waiting again, so a frame never waits for another wake-up to leave.
func (s *Switch) readBatches(ctx context.Context, port uint16, p BatchPort) {
	in := func(frame []byte) { s.receive(port, frame, true) }
	for {
		err := p.ReadBatch(in)
		for n, out := range s.ports {
			if bp, ok := out.(BatchPort); ok {
				if ferr := bp.Flush(); ferr != nil && ctx.Err() == nil {
					s.stats[n].TxErrors.Add(1)
				}
			}
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				s.log.Error("port read failed", "port", port, "error", err)
			}
			return
		}
	}
}
