// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Trial is one offered rate held for a time.
type Trial struct {
	OfferedPPS   int     `json:"offered_pps"`
	SentPPS      float64 `json:"sent_pps"` // what the sender achieved
	DeliveredPPS float64 `json:"delivered_pps"`
	Sent         uint64  `json:"sent"`
	Delivered    uint64  `json:"delivered"`
	Loss         float64 `json:"loss"` // fraction of sent not delivered
	Seconds      float64 `json:"seconds"`
	SenderShort  bool    `json:"sender_short"` // sent under 98% of offered: the sender's limit, not the switch's
}

// Run is one switch at one frame size: the sweep and the lossless rate.
type Run struct {
	Switch string  `json:"switch"`
	Size   int     `json:"frame_bytes"`
	Sweep  []Trial `json:"sweep"`
	// LosslessPPS is the highest rate with 0 frames lost over a full
	// trial, found by a binary search; LosslessAtLeast says the search
	// stopped at the sender's limit, not at the switch's.
	LosslessPPS     float64 `json:"lossless_pps"`
	LosslessAtLeast bool    `json:"lossless_at_least"`
	Search          []Trial `json:"search"`
}

// Results is the whole run.
type Results struct {
	Date    string `json:"date"`
	Machine string `json:"machine"`
	Trial   string `json:"trial"`
	Runs    []Run  `json:"runs"`
}

const flows = 1024

// writePcap writes flows TCP frames of size bytes (with the 4-byte FCS,
// as frame sizes are counted) from distinct clients and ports to the VIP,
// addressed to the switch's MAC: every one is steered.
func writePcap(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	src, _ := net.ParseMAC("02:00:00:00:00:0c")
	dst, _ := net.ParseMAC(switchMAC)
	for i := 0; i < flows; i++ {
		eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IPv4(10, 1, byte(i>>8), byte(i)), DstIP: net.IPv4(10, 0, 0, 100)}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(20000 + i*37%40000), DstPort: 80, Seq: uint32(i), SYN: true, Window: 65535}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		payload := make([]byte, size-4-14-20-20)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			return err
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, 0), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			return err
		}
	}
	return nil
}

// actualRE is tcpreplay's summary line: "Actual: N packets (B bytes) sent in S seconds".
var actualRE = regexp.MustCompile(`Actual: \d+ packets \(\d+ bytes\) sent in ([0-9.]+) seconds`)

// trial offers pps for d through tcpreplay and counts what arrives.
func trial(ctx context.Context, t *topology, pcap string, pps int, d time.Duration) (Trial, error) {
	limit := int(float64(pps) * d.Seconds())
	before, err := t.snapshot()
	if err != nil {
		return Trial{}, err
	}
	// -K: the capture is preloaded, so reading it costs nothing while
	// sending; --pps-multi sends small groups per timer tick above 50 kpps,
	// which tcpreplay needs to reach such rates (groups of at most 16, a
	// few tens of microseconds apart: paced, not a burst).
	multi := max(1, min(16, pps/25000))
	cmd := exec.CommandContext(ctx, "tcpreplay", "-K", "-i", hostSide(edgePort),
		"--pps="+strconv.Itoa(pps), "--pps-multi="+strconv.Itoa(multi), "--loop=0", "--limit="+strconv.Itoa(limit), pcap)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Trial{}, fmt.Errorf("tcpreplay: %v: %s", err, tail(out, 500))
	}
	// The sending time is tcpreplay's own (from its first packet to its
	// last), not the process's, whose start-up would count against it.
	m := actualRE.FindSubmatch(out)
	if m == nil {
		return Trial{}, fmt.Errorf("tcpreplay said nothing of what it sent: %s", tail(out, 500))
	}
	secs, _ := strconv.ParseFloat(string(m[1]), 64)
	elapsed := time.Duration(secs * float64(time.Second))
	if elapsed <= 0 {
		return Trial{}, fmt.Errorf("tcpreplay sent in %q seconds", m[1])
	}
	time.Sleep(300 * time.Millisecond) // frames still in the switch's queues
	after, err := t.snapshot()
	if err != nil {
		return Trial{}, err
	}
	tr := Trial{OfferedPPS: pps, Seconds: elapsed.Seconds(),
		Sent: after.sent - before.sent, Delivered: after.delivered - before.delivered}
	tr.SentPPS = float64(tr.Sent) / elapsed.Seconds()
	tr.DeliveredPPS = float64(tr.Delivered) / elapsed.Seconds()
	if tr.Sent > 0 && tr.Delivered < tr.Sent {
		tr.Loss = float64(tr.Sent-tr.Delivered) / float64(tr.Sent)
	}
	tr.SenderShort = tr.SentPPS < 0.98*float64(pps)
	return tr, nil
}

// measure sweeps the offered rates (trials of a third of the full length,
// stopping past the first rate that loses more than half) and then
// searches the highest lossless rate with full-length trials.
func measure(ctx context.Context, o options, t *topology, name string, size int, log *slog.Logger) (Run, error) {
	dir, err := os.MkdirTemp("", "switchbench-pcap")
	if err != nil {
		return Run{}, err
	}
	defer os.RemoveAll(dir)
	pcap := filepath.Join(dir, fmt.Sprintf("%d.pcap", size))
	if err := writePcap(pcap, size); err != nil {
		return Run{}, err
	}
	r := Run{Switch: name, Size: size}
	// Warm up: caches, the switch's first allocation of its buffers.
	if _, err := trial(ctx, t, pcap, 1000, time.Second); err != nil {
		return r, err
	}
	sweepLen := max(2*time.Second, o.trial/3)
	lo, hi := 0.0, 0.0 // highest lossless and lowest lossy rate seen
	for _, k := range o.rates {
		tr, err := trial(ctx, t, pcap, k*1000, sweepLen)
		if err != nil {
			return r, err
		}
		r.Sweep = append(r.Sweep, tr)
		log.Info("sweep", "switch", name, "bytes", size, "offered_kpps", k, "sent_kpps", round(tr.SentPPS/1000), "delivered_kpps", round(tr.DeliveredPPS/1000), "loss", fmt.Sprintf("%.3f%%", tr.Loss*100))
		if tr.Loss == 0 && !tr.SenderShort && hi == 0 {
			lo = float64(k * 1000)
		} else if tr.Loss > 0 && hi == 0 {
			hi = float64(k * 1000)
		}
		if tr.SenderShort || tr.Loss > 0.5 {
			break
		}
	}
	if hi == 0 { // lossless as far as the sender went
		r.LosslessPPS, r.LosslessAtLeast = lo, true
		return r, nil
	}
	// Binary search between lo and hi with full-length trials; the result
	// is a rate that held 0 loss for a whole trial. A lo that only a short
	// sweep trial vouched for is held for a full trial at the end, and the
	// search goes on below it if it loses frames.
	best := 0.0
	try := func(pps float64) (bool, error) {
		tr, err := trial(ctx, t, pcap, int(pps), o.trial)
		if err != nil {
			return false, err
		}
		r.Search = append(r.Search, tr)
		log.Info("search", "switch", name, "bytes", size, "offered_pps", int(pps), "sent_pps", int(tr.SentPPS), "loss", fmt.Sprintf("%.4f%%", tr.Loss*100))
		return tr.Loss == 0 && !tr.SenderShort, nil
	}
	for best == 0 {
		for hi-lo > o.searchStep*hi {
			mid := math.Round((lo+hi)/2/100) * 100
			if mid <= 0 || mid == lo || mid == hi {
				break
			}
			ok, err := try(mid)
			if err != nil {
				return r, err
			}
			if ok {
				lo, best = mid, mid
			} else {
				hi = mid
			}
		}
		if best > 0 || lo == 0 {
			break
		}
		ok, err := try(lo)
		if err != nil {
			return r, err
		}
		if ok {
			best = lo
		} else {
			lo, hi = 0, lo
		}
	}
	r.LosslessPPS = best
	return r, nil
}

func round(v float64) float64 { return math.Round(v*10) / 10 }
