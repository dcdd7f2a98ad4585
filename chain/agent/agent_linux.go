// SPDX-License-Identifier: Apache-2.0

// Package agent is chaining on a Linux TM host (docs/tm.md, "Chaining"):
// packets of connections the host holds no state for reach it through
// an NFQUEUE rule (rules_linux.go), package chain decides, and a packet
// for a bucket's previous owner leaves again, destination MAC rewritten,
// by the leg it came in on. `symdist tm` runs it built in; `symdist chain`
// runs it beside any other TM (Linux NAT, haproxy, nginx, a firewall).
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/chain"
	"github.com/symdist/symdist/internal/limitlog"
	"golang.org/x/sys/unix"
)

// DefaultQueue is the NFQUEUE number the agent reads unless told another.
const DefaultQueue = 3149

// MaxQueueLen bounds the packets the kernel holds for the agent. Past it,
// or when the agent's socket is full, the kernel drops the packet (it is
// counted, symdist_chain_queue_dropped_total): the sender resends it.
// Letting it through instead (NFQA_CFG_F_FAIL_OPEN) would hand a packet
// of another TM's connection to this host's stack, which resets that
// connection: a bulk transfer on a chained connection did exactly that
// within 100 ms (BenchmarkChainedThroughput).
const MaxQueueLen = 4096

// QueueBuffer is the receive buffer of the agent's queue socket: about
// MaxQueueLen packets of 1,500 bytes with their netlink headers, so that
// the socket, not only the queue, holds a burst (the default, about
// 200 KiB, is a few dozen packets).
const QueueBuffer = 8 << 20

// Config is an agent.
type Config struct {
	TM    string // the TM this host is
	Queue uint16 // DefaultQueue when 0
	// Legs are the interfaces that face the distributors; every interface
	// when empty. The switch a leg faces is found by its MAC: the TM's MAC
	// on that switch in the controller's config.
	Legs []string
	Log  *slog.Logger
	// OnChained, if set, hears the destination of every TCP packet sent to
	// a previous owner (symdist tm holds that self port back).
	OnChained func(dst netip.AddrPort)
}

// Agent chains packets for one TM.
type Agent struct {
	cfg Config
	log *slog.Logger
	// refusals keeps a failing send from logging per packet.
	refusals *limitlog.Limiter
	state    atomic.Pointer[chain.State]
	sock     int // AF_PACKET, for sending

	mu   sync.Mutex
	legs map[uint32]leg // by ifindex

	ready chan struct{} // closed once the queue is read

	decided *prometheus.CounterVec
	bytes   prometheus.Counter
	sendErr prometheus.Counter
}

// leg is an interface of the TM and the switch it faces.
type leg struct {
	name   string
	mac    net.HardwareAddr
	sw     string // "": not a leg (the packet is left alone)
	looked time.Time
}

// New makes an agent; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: cfg.Log, refusals: limitlog.New(10 * time.Second), sock: -1, legs: map[uint32]leg{}, ready: make(chan struct{}),
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "symdist_chain_packets_total",
			Help: "Packets of connections this host holds no state for, by what the chaining agent did (reason=chained: sent to the bucket's previous owner).",
		}, []string{"reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "symdist_chain_bytes_total", Help: "Bytes (IP) of the packets sent to a previous owner.",
		}),
		sendErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "symdist_chain_send_errors_total", Help: "Chained packets that could not be sent (dropped: the sender resends them).",
		}),
	}
	return a
}

// Ready is closed once the agent reads its queue: a TM waits for it
// before it reports healthy, so that no bucket moves to it while packets
// it should chain would still reach its kernel unchained.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Collectors are the agent's metrics, for a Prometheus registry.
func (a *Agent) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.decided, a.bytes, a.sendErr, queueCollector{queue: a.cfg.Queue}}
}

// SetTable takes a table from the controller (the watch, a fetch, a
// file), received now.
func (a *Agent) SetTable(bt adminapi.BucketTable) {
	a.state.Store(chain.NewState(a.cfg.TM, bt.Buckets, bt.Chains, bt.Peers, time.Now()))
	a.mu.Lock()
	clear(a.legs) // the TMs' MACs may have changed with the config
	a.mu.Unlock()
}

// Run installs the rule, reads the queue until ctx ends, and removes the
// rule. If the agent dies instead, the rule's bypass lets packets through.
func (a *Agent) Run(ctx context.Context) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: sends only
	if err != nil {
		return fmt.Errorf("packet socket (needs CAP_NET_RAW): %w", err)
	}
	a.sock = fd
	defer unix.Close(fd)
	if err := Install(a.cfg.Queue, a.cfg.Legs); err != nil {
		return fmt.Errorf("installing the chaining rule (needs CAP_NET_ADMIN): %w", err)
	}
	defer func() {
		if err := Uninstall(); err != nil {
			a.log.Warn("chaining: removing the rule", "err", err)
		}
	}()
	nf, err := nfqueue.Open(&nfqueue.Config{NfQueue: a.cfg.Queue, MaxPacketLen: 0xffff, MaxQueueLen: MaxQueueLen,
		Copymode: nfqueue.NfQnlCopyPacket, WriteTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("nfqueue %d: %w", a.cfg.Queue, err)
	}
	defer nf.Close()
	if err := forceReadBuffer(nf.Con, QueueBuffer); err != nil {
		a.log.Warn("chaining: the queue socket keeps its default buffer; bursts past it are dropped (and resent)", "want", QueueBuffer, "err", err)
	}
	_ = nf.SetOption(netlink.NoENOBUFS, true)
	errs := make(chan error, 1)
	err = nf.RegisterWithErrorFunc(ctx, func(attr nfqueue.Attribute) int {
		if attr.PacketID == nil {
			return 0
		}
		verdict := a.handle(attr)
		if err := nf.SetVerdict(*attr.PacketID, verdict); err != nil && ctx.Err() == nil {
			a.log.Warn("chaining: verdict", "err", err)
		}
		return 0
	}, func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		var ne *netlink.OpError
		if errors.As(err, &ne) && errors.Is(ne.Err, unix.ENOBUFS) {
			return 0 // the kernel dropped some: counted by queueCollector
		}
		select {
		case errs <- err:
		default:
		}
		return 1
	})
	if err != nil {
		return err
	}
	a.log.Info("chaining agent running", "tm", a.cfg.TM, "queue", a.cfg.Queue, "legs", a.cfg.Legs)
	close(a.ready)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return fmt.Errorf("nfqueue: %w", err)
	}
}

// handle decides one packet and returns its verdict.
func (a *Agent) handle(attr nfqueue.Attribute) int {
	if attr.Payload == nil {
		return nfqueue.NfAccept
	}
	pkt := *attr.Payload
	var src net.HardwareAddr
	if attr.HwAddr != nil {
		src = *attr.HwAddr
	}
	d := a.state.Load().Decide(pkt, src, time.Now())
	switch d.Reason {
	case chain.Chained:
	case chain.Unparsable, chain.NotHeldHere:
		a.decided.WithLabelValues(string(d.Reason)).Inc()
		return nfqueue.NfDrop
	default:
		a.decided.WithLabelValues(string(d.Reason)).Inc()
		return nfqueue.NfAccept
	}
	var in uint32
	if attr.InDev != nil {
		in = *attr.InDev
	}
	l := a.leg(in)
	if l.sw == "" {
		a.decided.WithLabelValues("not_a_leg").Inc()
		return nfqueue.NfAccept
	}
	st := a.state.Load()
	sent := 0
	for _, prev := range d.Previous {
		dst := st.Peers[prev][l.sw]
		if dst == nil {
			continue
		}
		// From this TM's own MAC, not the frame's original source: a
		// learning switch on the way would otherwise move the client's
		// MAC to this leg.
		if err := a.send(in, dst, l.mac, pkt); err != nil {
			a.sendErr.Inc()
			a.refusals.Log(a.log, slog.LevelWarn, "send", "chaining: sending a packet to its previous owner failed",
				"to", prev, "interface", l.name, "bytes", len(pkt), "err", err)
			continue
		}
		sent++
	}
	if sent == 0 {
		// Dropped, not let through: this host's stack would reset a
		// connection another TM holds. A send that failed for a moment
		// (a full socket buffer) works when TCP resends.
		a.decided.WithLabelValues("not_sent").Inc()
		return nfqueue.NfDrop
	}
	a.decided.WithLabelValues(string(chain.Chained)).Inc()
	a.bytes.Add(float64(sent * len(pkt)))
	if a.cfg.OnChained != nil {
		if dst, ok := chain.Destination(pkt); ok {
			a.cfg.OnChained(dst)
		}
	}
	return nfqueue.NfDrop
}

// leg returns the leg of interface index, looking it up (again at most
// once a second for an interface that is not one).
func (a *Agent) leg(index uint32) leg {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.legs[index]; ok && (l.sw != "" || time.Since(l.looked) < time.Second) {
		return l
	}
	l := leg{looked: time.Now()}
	if ifc, err := net.InterfaceByIndex(int(index)); err == nil {
		l.name, l.mac = ifc.Name, ifc.HardwareAddr
		if len(a.cfg.Legs) == 0 || contains(a.cfg.Legs, ifc.Name) {
			if st := a.state.Load(); st != nil {
				for sw, mac := range st.Peers[a.cfg.TM] {
					if bytes.Equal(mac, ifc.HardwareAddr) {
						l.sw = sw
					}
				}
			}
		}
	}
	if l.sw == "" && a.state.Load() != nil {
		a.log.Info("chaining: an interface that faces no distributor (its MAC is not this TM's on any switch); its packets are left alone",
			"interface", l.name, "mac", l.mac.String())
	}
	a.legs[index] = l
	return l
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// send writes pkt in an Ethernet frame from src to dst out of interface
// index.
func (a *Agent) send(index uint32, dst, src net.HardwareAddr, pkt []byte) error {
	ethType := uint16(unix.ETH_P_IP)
	if len(pkt) > 0 && pkt[0]>>4 == 6 {
		ethType = unix.ETH_P_IPV6
	}
	frame := make([]byte, 14+len(pkt))
	copy(frame, dst)
	copy(frame[6:], src)
	frame[12], frame[13] = byte(ethType>>8), byte(ethType)
	copy(frame[14:], pkt)
	return unix.Sendto(a.sock, frame, 0, &unix.SockaddrLinklayer{Ifindex: int(index), Protocol: htons(ethType), Halen: 6})
}

// forceReadBuffer sets the socket's receive buffer past net.core.rmem_max
// (SO_RCVBUFFORCE: the agent has CAP_NET_ADMIN).
func forceReadBuffer(c *netlink.Conn, size int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil {
		return err
	}
	return serr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
