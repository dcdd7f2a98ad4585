package swswitch

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// Port moves frames in and out of one switch port.
type Port interface {
	// Read blocks for the next received frame, copied into buf; it returns
	// the length, or an error once the port is closed.
	Read(buf []byte) (int, error)
	// Write sends one frame.
	Write(frame []byte) error
	Close() error
}

// ErrClosed is returned by a closed port.
var ErrClosed = errors.New("port closed")

// rawPort is a Linux interface through an AF_PACKET socket.
type rawPort struct {
	fd      int
	ifindex int
	name    string
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenInterface opens a Linux interface (needs CAP_NET_RAW). Frames the
// interface sends are not read back.
func OpenInterface(name string) (Port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("%s: AF_PACKET socket: %w", name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: bind: %w", name, err)
	}
	// Big buffers: bursts arrive faster than one goroutine drains them.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return &rawPort{fd: fd, ifindex: ifi.Index, name: name}, nil
}

func (p *rawPort) Read(buf []byte) (int, error) {
	for {
		n, from, err := unix.Recvfrom(p.fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.name, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own transmission
		}
		return n, nil
	}
}

func (p *rawPort) Write(frame []byte) error {
	return unix.Sendto(p.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: p.ifindex, Halen: 6})
}

func (p *rawPort) Close() error { return unix.Close(p.fd) }

// PipePort is an in-process port: what the switch writes is delivered to
// a function, and Inject feeds frames in. The demo and the tests use it.
type PipePort struct {
	in     chan []byte
	out    func([]byte)
	once   sync.Once
	closed chan struct{}
}

// NewPipePort returns a port whose output goes to out (called from the
// switch's goroutine; it must not block for long).
func NewPipePort(out func(frame []byte)) *PipePort {
	return &PipePort{in: make(chan []byte, 1024), out: out, closed: make(chan struct{})}
}

// Inject queues a frame as if received on the port.
func (p *PipePort) Inject(frame []byte) error {
	select {
	case p.in <- frame:
		return nil
	case <-p.closed:
		return ErrClosed
	}
}

func (p *PipePort) Read(buf []byte) (int, error) {
	select {
	case f := <-p.in:
		return copy(buf, f), nil
	case <-p.closed:
		return 0, ErrClosed
	}
}

func (p *PipePort) Write(frame []byte) error {
	if p.out != nil {
		p.out(append([]byte(nil), frame...))
	}
	return nil
}

func (p *PipePort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}
