// SPDX-License-Identifier: Apache-2.0

package swswitch_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/swswitch"
)

// ringPair is a veth pair with a ring port on one end and a plain socket
// port on the other, the reference the ring is held against.
func ringPair(t *testing.T) (ring swswitch.BatchPort, sock swswitch.Port) {
	t.Helper()
	if why := testbed.CanMakeVeths(); why != "" {
		t.Skip(why)
	}
	pairs, cleanup, err := testbed.MakeVeths("rgt", []uint16{1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	r, err := swswitch.OpenRingInterface(pairs[0].SwitchSide)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s, err := swswitch.OpenSocketInterface(pairs[0].HostSide)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return r.(swswitch.BatchPort), s
}

func frame(n int, tag uint16) []byte {
	b := make([]byte, n)
	copy(b, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x88b5) // local experimental
	if tag != 0 {
		b = append(b[:12], append([]byte{0x81, 0, byte(tag >> 8), byte(tag)}, b[12:]...)...)
	}
	for i := 16; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// Frames of every kind cross a ring port both ways unchanged: small,
// VLAN-tagged (the tag the kernel takes off is put back), jumbo.
func TestRingPortFrames(t *testing.T) {
	ring, sock := ringPair(t)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"60 bytes", frame(60, 0)},
		{"vlan 20", frame(60, 20)},
		{"1514 bytes", frame(1514, 0)},
		{"9000-byte jumbo", frame(9000, 0)},
	} {
		t.Run(tc.name+" in", func(t *testing.T) {
			if err := sock.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			var got [][]byte
			if err := ring.ReadBatch(func(f []byte) { got = append(got, bytes.Clone(f)) }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !bytes.Equal(got[0], tc.frame) {
				t.Errorf("got %d frames, first %x\nwant %x", len(got), got, tc.frame)
			}
		})
		t.Run(tc.name+" out", func(t *testing.T) {
			if err := ring.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10000)
			n, err := sock.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], tc.frame) {
				t.Errorf("got %x, %v\nwant %x", buf[:n], err, tc.frame)
			}
		})
	}
}

// Queued frames leave only on Flush, all of them, in order, and more
// than the send ring holds.
func TestRingPortQueueFlush(t *testing.T) {
	ring, sock := ringPair(t)
	const n = 3000 // more than the send ring's slots (2 MiB of 16 KiB slots at MTU 9500: 128)
	got := make(chan int, n)
	go func() {
		buf := make([]byte, 10000)
		for {
			k, err := sock.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- int(binary.BigEndian.Uint32(buf[16:k]))
		}
	}()
	f := frame(64, 0)
	binary.BigEndian.PutUint32(f[16:], 0)
	if err := ring.Queue(f); err != nil {
		t.Fatal(err)
	}
	select {
	case i := <-got:
		t.Fatalf("frame %d left before Flush", i)
	case <-time.After(100 * time.Millisecond):
	}
	for i := 1; i < n; i++ {
		binary.BigEndian.PutUint32(f[16:], uint32(i))
		if err := ring.Queue(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := ring.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		select {
		case k := <-got:
			if k != i {
				t.Fatalf("frame %d arrived as number %d", k, i)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("only %d of %d frames arrived", i, n)
		}
	}
}

// Close wakes a reader blocked in ReadBatch, which then says ErrClosed.
func TestRingPortCloseWakesReader(t *testing.T) {
	ring, _ := ringPair(t)
	done := make(chan error)
	go func() { done <- ring.ReadBatch(func([]byte) {}) }()
	time.Sleep(50 * time.Millisecond)
	ring.Close()
	select {
	case err := <-done:
		if !errors.Is(err, swswitch.ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadBatch still blocked 2 s after Close")
	}
	if err := ring.Write(frame(60, 0)); !errors.Is(err, swswitch.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}
