// SPDX-License-Identifier: Apache-2.0

package tm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/ports"
)

// startFollowing subscribes to the controller's table and returns once
// the first table is applied. Every later table is applied as it comes:
// a loss stops the allocation of the lost ports before it is acknowledged
// (after up to LossGrace for connections still on them); a gain frees the
// ports and wakes the connections holding for one. stop ends the
// subscription (Start failed after all).
func (s *Server) startFollowing(ctx context.Context, f Follower) (stop func(), err error) {
	fctx, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	once := func(err error) {
		select {
		case first <- err:
		default:
		}
	}
	started := false
	apply := func(ev adminapi.Event) error {
		bt := adminapi.BucketTable{Group: ev.Group, Buckets: ev.Buckets, Chains: ev.Chains, Peers: ev.Peers, Held: ev.Held}
		if !started {
			if err := s.firstTable(bt, ev.Version); err != nil {
				once(err)
				return err
			}
			started = true
			once(nil)
			return nil
		}
		return s.applyTable(bt, ev.Version)
	}
	onErr := func(err error) {
		if !started && adminapi.IsPermanent(err) {
			once(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.bucketSt.Errors++
		if s.refusedLocked(err) {
			return
		}
		if msg := err.Error(); msg != s.bucketSt.LastError {
			s.log.Warn("bucket table watch", "source", s.cfg.source.String(), "err", err)
			s.bucketSt.LastError = msg
		}
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f.Follow(fctx, apply, onErr, s.inUse)
	}()
	t := time.NewTimer(startFetchFor)
	defer t.Stop()
	select {
	case err = <-first:
	case <-t.C:
		err = fmt.Errorf("no bucket table after %v", startFetchFor)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return cancel, nil
}

// applyTable applies a pushed table. With ports lost it waits up to
// LossGrace for the connections using them to end, so that they finish
// before the controller moves their buckets.
func (s *Server) applyTable(bt adminapi.BucketTable, version uint64) error {
	s.noteTable(bt)
	held, err := adminapi.HeldFor(bt.Held, s.cfg.Name, s.cfg.snat)
	if err != nil {
		return err
	}
	s.mu.Lock()
	gained, lost, err := s.tab.UpdateReserved(bt.Buckets, held)
	if err != nil {
		s.bucketSt.Errors++
		s.bucketSt.LastError = err.Error()
		s.mu.Unlock()
		return err
	}
	s.bucketSt.LastError = ""
	s.noteChangeLocked(bt, version, gained, lost)
	s.mu.Unlock()
	if gained > 0 {
		s.signalPorts()
	}
	if lost > 0 && s.cfg.LossGrace > 0 {
		start := time.Now()
		if n := s.awaitLostPorts(s.cfg.LossGrace); n > 0 {
			s.log.Info("acknowledging a loss with connections still on lost ports: their replies will go elsewhere",
				"connections", n, "waited", s.cfg.LossGrace)
		} else {
			s.log.Debug("lost ports free", "waited", time.Since(start))
		}
	}
	return nil
}

// awaitLostPorts waits up to d until no connection uses a lost port, and
// returns how many still do.
func (s *Server) awaitLostPorts(d time.Duration) int {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		ch := s.portsChangedCh()
		n := s.tab.InUseLost()
		if n == 0 {
			return 0
		}
		select {
		case <-ch:
		case <-t.C:
			return s.tab.InUseLost()
		case <-s.hard.Done():
			return n
		}
	}
}

func (s *Server) portsChangedCh() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.portsChanged
}

// signalPorts wakes everyone waiting for a port.
func (s *Server) signalPorts() {
	s.wakeMu.Lock()
	close(s.portsChanged)
	s.portsChanged = make(chan struct{})
	s.wakeMu.Unlock()
}

// allocate takes a free self port above dst. With none, it holds the
// connection up to Hold for one: a TM that has just joined owns no bucket
// until the switches hold its share, and a port may come free.
func (s *Server) allocate(dst uint16) (uint16, error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	var t *time.Timer
	for {
		ch := s.portsChangedCh()
		p, err := s.tab.Allocate(dst)
		if !errors.Is(err, ports.ErrExhausted) || s.cfg.Hold <= 0 {
			return p, err
		}
		if t == nil {
			s.st.waited.Add(1)
			t = time.NewTimer(s.cfg.Hold)
			defer t.Stop()
		}
		select {
		case <-ch:
		case <-t.C:
			s.st.waitTimeouts.Add(1)
			return 0, fmt.Errorf("%w after holding the connection %v", err, s.cfg.Hold)
		case <-s.hard.Done():
			return 0, err
		}
	}
}

// inUse is what an ack or a report carries: the self ports this TM still
// uses in buckets it lost. The TM that gains those buckets and shares the
// SNAT address must not hand them out (adminapi.InUse).
func (s *Server) inUse() []adminapi.InUse {
	s.mu.Lock()
	tab := s.tab
	s.mu.Unlock()
	return adminapi.InUseOf(tab)
}
