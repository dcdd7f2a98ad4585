// SPDX-License-Identifier: Apache-2.0

package swswitch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchPort is a Port that hands over every frame already received in one
// wake-up and sends what was written since the last Flush in one system
// call. The switch reads such ports with ReadBatch and flushes every
// BatchPort before it waits again.
type BatchPort interface {
	Port
	// ReadBatch blocks until at least one frame is there, then calls f
	// for each frame received so far. The frame is valid only during f.
	ReadBatch(f func(frame []byte)) error
	// Queue is Write without the send: Flush sends what was queued.
	Queue(frame []byte) error
	Flush() error
}

// Ring memory per port: the receive ring holds rxRingBytes of frames, the
// send ring txRingBytes, whatever the MTU (a larger MTU means fewer,
// larger slots). docs/performance.md states these.
const (
	rxRingBytes = 8 << 20
	txRingBytes = 2 << 20
	ringBlock   = 128 << 10
	// tpacket2HdrLen is TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): where
	// a frame's data starts in a send slot.
	tpacket2HdrLen = 32
	// sockaddrLLOff is where the kernel puts a received frame's struct
	// sockaddr_ll in its slot (after the header); its sll_pkttype byte
	// says whether the frame was our own transmission.
	sockaddrLLOff = tpacket2HdrLen
)

// ringPort is a Linux interface through two AF_PACKET sockets with
// memory-mapped TPACKET_V2 rings: a receive ring read without a system
// call while frames keep arriving, and a send ring whose queued frames go
// out with one sendto per Flush. It replaces a recvmsg and a sendto per
// frame (rawPort), which bound the switch at about a third of what the
// kernel forwards between veths (docs/performance.md).
type ringPort struct {
	name    string
	ifindex int

	rxMu     sync.Mutex // held by the reader; Close waits for it to unmap
	rx       *os.File
	rxConn   syscall.RawConn
	rxRing   []byte
	rxFrame  int // slot size
	rxFrames int
	rxNext   int
	vlanBuf  []byte // a frame with its VLAN tag put back

	txMu      sync.Mutex
	tx        int // fd
	txRing    []byte
	txFrame   int
	txFrames  int
	txNext    int
	txPending int
	closed    atomic.Bool
	closeOnce sync.Once
}

// slotSize is the smallest power of two (at least 2 KiB) that holds a
// frame of the interface's MTU with an 802.1Q tag and the ring's headers.
func slotSize(mtu int) int {
	need := mtu + 14 + 4 + 128
	n := 2048
	for n < need {
		n <<= 1
	}
	return n
}

// OpenRingInterface opens a Linux interface with memory-mapped rings
// (needs CAP_NET_RAW). Frames larger than the interface's MTU when it was
// opened are dropped and counted (Truncated).
func OpenRingInterface(name string) (Port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	p := &ringPort{name: name, ifindex: ifi.Index, tx: -1}
	slot := slotSize(ifi.MTU)
	if err := p.openRx(slot); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.openTx(slot); err != nil {
		p.Close()
		return nil, err
	}
	p.vlanBuf = make([]byte, slot)
	return p, nil
}

func (p *ringPort) openRx(slot int) error {
	// Protocol 0 until bind: a packet socket opened with ETH_P_ALL takes
	// frames from every interface of the host until it is bound to one,
	// and those would be forwarded as if they came in on this port.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("%s: AF_PACKET socket: %w", p.name, err)
	}
	p.rx = os.NewFile(uintptr(fd), p.name)
	// Our own transmissions (from the send socket) are not received.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	p.rxFrame, p.rxFrames = slot, rxRingBytes/slot
	if p.rxRing, err = mapRing(fd, unix.PACKET_RX_RING, rxRingBytes, slot); err != nil {
		return fmt.Errorf("%s: receive ring: %w", p.name, err)
	}
	// Bound after the ring exists, so no frame is queued outside it.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: p.ifindex}); err != nil {
		return fmt.Errorf("%s: bind: %w", p.name, err)
	}
	p.rxConn, err = p.rx.SyscallConn()
	return err
}

func (p *ringPort) openTx(slot int) error {
	// Protocol 0: this socket receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: AF_PACKET socket: %w", p.name, err)
	}
	p.tx = fd
	// Straight to the driver: a switch port has no queueing discipline to
	// honour, and the qdisc lock is the costliest part of a veth send.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	p.txFrame, p.txFrames = slot, txRingBytes/slot
	if p.txRing, err = mapRing(fd, unix.PACKET_TX_RING, txRingBytes, slot); err != nil {
		return fmt.Errorf("%s: send ring: %w", p.name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: p.ifindex}); err != nil {
		return fmt.Errorf("%s: bind: %w", p.name, err)
	}
	return nil
}

// mapRing gives the TPACKET_V2 socket fd a ring (which: PACKET_RX_RING or
// PACKET_TX_RING) of size bytes in slots of slot bytes, and maps it.
func mapRing(fd, which, size, slot int) ([]byte, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return nil, fmt.Errorf("TPACKET_V2: %w", err)
	}
	req := unix.TpacketReq{Block_size: ringBlock, Block_nr: uint32(size / ringBlock), Frame_size: uint32(slot), Frame_nr: uint32(size / slot)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, which, &req); err != nil {
		return nil, err
	}
	return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// status is the tp_status word of the slot at off, shared with the kernel.
func status(ring []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&ring[off])) }

func (p *ringPort) hdr(off int) *unix.Tpacket2Hdr {
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&p.rxRing[off]))
}

// ReadBatch waits for the next slot to be handed over, then takes every
// slot the kernel has filled, handing each back after f.
func (p *ringPort) ReadBatch(f func(frame []byte)) error { return p.read(f, p.rxFrames) }

// read waits for the next slot to be handed over, then takes up to most
// of the slots the kernel has filled, handing each back after f.
func (p *ringPort) read(f func(frame []byte), most int) error {
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	for {
		if p.closed.Load() {
			return ErrClosed
		}
		off := p.rxNext * p.rxFrame
		if atomic.LoadUint32(status(p.rxRing, off))&unix.TP_STATUS_USER != 0 {
			break
		}
		err := p.rxConn.Read(func(uintptr) bool {
			return p.closed.Load() || atomic.LoadUint32(status(p.rxRing, off))&unix.TP_STATUS_USER != 0
		})
		if err != nil {
			return p.readErr(err)
		}
	}
	for n := 0; n < most; n++ {
		off := p.rxNext * p.rxFrame
		st := status(p.rxRing, off)
		s := atomic.LoadUint32(st)
		if s&unix.TP_STATUS_USER == 0 {
			break
		}
		if frame := p.frame(off, s); frame != nil {
			f(frame)
		}
		atomic.StoreUint32(st, unix.TP_STATUS_KERNEL)
		p.rxNext = (p.rxNext + 1) % p.rxFrames
	}
	return nil
}

// readErr is the error of a wait for frames: ErrClosed once Close was
// called (the poller says "use of closed file" then).
func (p *ringPort) readErr(err error) error {
	if p.closed.Load() || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// frame is the frame in the slot at off, with the VLAN tag the kernel
// took off put back (as rawPort does from PACKET_AUXDATA), or nil for our
// own transmission or a frame larger than the slot.
func (p *ringPort) frame(off int, st uint32) []byte {
	h := p.hdr(off)
	if p.rxRing[off+sockaddrLLOff+10] == unix.PACKET_OUTGOING { // sll_pkttype
		return nil
	}
	if h.Snaplen < h.Len { // larger than a slot: the MTU grew after the port opened
		return nil
	}
	start := off + int(h.Mac)
	data := p.rxRing[start : start+int(h.Snaplen)]
	if st&unix.TP_STATUS_VLAN_VALID == 0 || len(data) < 12 {
		return data
	}
	tpid := uint16(0x8100)
	if st&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
		tpid = h.Vlan_tpid
	}
	out := p.vlanBuf[:len(data)+4]
	copy(out, data[:12])
	binary.BigEndian.PutUint16(out[12:], tpid)
	binary.BigEndian.PutUint16(out[14:], h.Vlan_tci)
	copy(out[16:], data[12:])
	return out
}

// Read is Port.Read over the ring, for callers that take one frame at a
// time.
func (p *ringPort) Read(buf []byte) (int, error) {
	for {
		n := -1
		err := p.read(func(frame []byte) { n = copy(buf, frame) }, 1)
		if err != nil {
			return 0, err
		}
		if n >= 0 {
			return n, nil
		}
	}
}

// Write sends one frame now.
func (p *ringPort) Write(frame []byte) error {
	if err := p.Queue(frame); err != nil {
		return err
	}
	return p.Flush()
}

// Queue puts a frame in the send ring; Flush sends it. When the ring is
// full of frames not yet sent, Queue sends them first.
func (p *ringPort) Queue(frame []byte) error {
	if len(frame) > p.txFrame-tpacket2HdrLen {
		return fmt.Errorf("%s: %d-byte frame is larger than the send slot (%d)", p.name, len(frame), p.txFrame-tpacket2HdrLen)
	}
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	off := p.txNext * p.txFrame
	st := status(p.txRing, off)
	if atomic.LoadUint32(st) != unix.TP_STATUS_AVAILABLE {
		// The slot is still queued or being sent: send everything and
		// wait for the kernel to finish with it.
		if err := p.send(true); err != nil {
			return err
		}
		if s := atomic.LoadUint32(st); s != unix.TP_STATUS_AVAILABLE {
			return fmt.Errorf("%s: send ring slot still busy (status %#x)", p.name, s)
		}
	}
	h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&p.txRing[off]))
	h.Len = uint32(len(frame))
	copy(p.txRing[off+tpacket2HdrLen:], frame)
	atomic.StoreUint32(st, unix.TP_STATUS_SEND_REQUEST)
	p.txNext = (p.txNext + 1) % p.txFrames
	p.txPending++
	return nil
}

// Flush sends the queued frames with one system call.
func (p *ringPort) Flush() error {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if p.txPending == 0 || p.closed.Load() {
		return nil
	}
	return p.send(false)
}

// send asks the kernel to send every queued slot; with wait it returns
// only when they are all sent and handed back.
func (p *ringPort) send(wait bool) error {
	flags := unix.MSG_DONTWAIT
	if wait {
		flags = 0
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(p.tx), 0, 0, uintptr(flags), 0, 0)
		switch errno {
		case 0:
			p.txPending = 0
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			// The device queue is full: the frames stay queued in the ring
			// and go with the next send.
			return nil
		default:
			return fmt.Errorf("%s: send: %w", p.name, errno)
		}
	}
}

func (p *ringPort) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if p.rx != nil {
			p.rx.Close() // wakes a blocked reader
		}
		p.rxMu.Lock() // the reader has left the ring
		if p.rxRing != nil {
			_ = unix.Munmap(p.rxRing)
			p.rxRing = nil
		}
		p.rxMu.Unlock()
		p.txMu.Lock()
		if p.tx >= 0 {
			unix.Close(p.tx)
			p.tx = -1
		}
		if p.txRing != nil {
			_ = unix.Munmap(p.txRing)
			p.txRing = nil
		}
		p.txMu.Unlock()
	})
	return nil
}
