package conformance

import (
	"sync"

	"github.com/symdist/symdist/swswitch"
)

// hostPort sends and captures frames on the host side of a veth, through
// the same AF_PACKET port code as the software switch.
type hostPort struct {
	port swswitch.Port

	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
}

func openHostPort(name string) (*hostPort, error) {
	p, err := swswitch.OpenInterface(name)
	if err != nil {
		return nil, err
	}
	h := &hostPort{port: p, done: make(chan struct{})}
	go h.capture()
	return h, nil
}

func (h *hostPort) capture() {
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

func (h *hostPort) send(frame []byte) error { return h.port.Write(frame) }

// take returns and forgets the frames captured so far.
func (h *hostPort) take() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.frames
	h.frames = nil
	return f
}

func (h *hostPort) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.frames)
}

func (h *hostPort) close() {
	h.port.Close()
	<-h.done
}
