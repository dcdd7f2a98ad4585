// SPDX-License-Identifier: Apache-2.0

package swswitch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

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

// rawPort is a Linux interface through an AF_PACKET socket, registered
// with Go's poller so that Close wakes a blocked Read.
type rawPort struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	name    string
	oob     []byte // control-message buffer of the (single) reader
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenInterface opens a Linux interface for the switch (needs
// CAP_NET_RAW): memory-mapped rings (ringPort). Frames the interface sends
// are not read back.
func OpenInterface(name string) (Port, error) { return OpenRingInterface(name) }

// OpenSocketInterface opens a Linux interface with one recvmsg and one
// sendto per frame (`symdist switch --port-io socket`): slower, kept as
// the simplest reference and for kernels without packet rings.
func OpenSocketInterface(name string) (Port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	// Protocol 0 until bind: opened with ETH_P_ALL, the socket would take
	// frames from every interface of the host until it is bound to this one.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: AF_PACKET socket: %w", name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: bind: %w", name, err)
	}
	// The kernel takes VLAN tags off received frames and hands them over
	// as auxiliary data (as libpcap knows); ask for it to put them back.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: PACKET_AUXDATA: %w", name, err)
	}
	// Big buffers: bursts arrive faster than one goroutine drains them.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawPort{f: f, rc: rc, ifindex: ifi.Index, name: name, oob: make([]byte, auxLen)}, nil
}

// auxLen is room for one PACKET_AUXDATA control message.
var auxLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

// Read returns the next frame received, with its VLAN tag (if the kernel
// took one off) put back after the MAC addresses. buf needs 4 bytes of
// room beyond the largest frame.
func (p *rawPort) Read(buf []byte) (int, error) {
	oob := p.oob
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := p.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf[:len(buf)-4], oob, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return 0, ErrClosed
			}
			return 0, fmt.Errorf("%s: %w", p.name, err)
		}
		if rerr == unix.EINTR {
			continue
		}
		if rerr != nil {
			return 0, fmt.Errorf("%s: %w", p.name, rerr)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own transmission
		}
		return restoreVLAN(buf, n, oob[:oobn]), nil
	}
}

// restoreVLAN puts back the VLAN tag the kernel moved into auxiliary data.
func restoreVLAN(buf []byte, n int, oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || n < 12 {
		return n
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA ||
			len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
			continue
		}
		tpid := uint16(0x8100)
		if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = aux.Vlan_tpid
		}
		copy(buf[16:n+4], buf[12:n])
		binary.BigEndian.PutUint16(buf[12:], tpid)
		binary.BigEndian.PutUint16(buf[14:], aux.Vlan_tci)
		return n + 4
	}
	return n
}

func (p *rawPort) Write(frame []byte) error {
	var werr error
	err := p.rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), frame, 0, &unix.SockaddrLinklayer{Ifindex: p.ifindex, Halen: 6})
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}

func (p *rawPort) Close() error { return p.f.Close() }

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
	case <-p.closed: // checked first: select picks at random among ready cases
		return ErrClosed
	default:
	}
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
