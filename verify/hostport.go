// SPDX-License-Identifier: Apache-2.0

package verify

import (
	"sync"

	"github.com/symdist/symdist/swswitch"
)

// HostPort is the far end of one switch port: frames sent on it enter the
// switch there, and it captures every frame the switch sends out of that
// port. OpenHostPort uses a Linux interface cabled to the port (a veth's
// other side, a NIC), through the software switch's AF_PACKET code.
type HostPort struct {
	port swswitch.Port

	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
}

// OpenHostPort opens interface name (needs CAP_NET_RAW) and starts
// capturing.
func OpenHostPort(name string) (*HostPort, error) {
	p, err := swswitch.OpenInterface(name)
	if err != nil {
		return nil, err
	}
	return NewHostPort(p), nil
}

// NewHostPort captures from p and sends on it.
func NewHostPort(p swswitch.Port) *HostPort {
	h := &HostPort{port: p, done: make(chan struct{})}
	go h.capture()
	return h
}

func (h *HostPort) capture() {
	defer close(h.done)
	buf := make([]byte, 65536)
	for {
		n, err := h.port.Read(buf)
		if err != nil {
			return
		}
		h.mu.Lock()
		h.frames = append(h.frames, append([]byte(nil), buf[:n]...))
		h.mu.Unlock()
	}
}

// Send sends one frame into the switch.
func (h *HostPort) Send(frame []byte) error { return h.port.Write(frame) }

// Take returns and forgets the frames captured so far.
func (h *HostPort) Take() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.frames
	h.frames = nil
	return f
}

// Count is how many frames were captured and not taken yet.
func (h *HostPort) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.frames)
}

// Close stops capturing and closes the port.
func (h *HostPort) Close() {
	h.port.Close()
	<-h.done
}

// CrossesLink reports whether Linux delivers the frame through a veth or
// NIC: a frame whose EtherType says 802.1Q/802.1ad but that ends inside
// the tag is dropped by the kernel's VLAN untagging.
func CrossesLink(frame []byte) bool {
	if len(frame) >= 14 && frame[12] == 0x81 && frame[13] == 0x00 || len(frame) >= 14 && frame[12] == 0x88 && frame[13] == 0xa8 {
		return len(frame) >= 18
	}
	return true
}
