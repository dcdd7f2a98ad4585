// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/symdist/symdist/contract"
)

// chunkSize is how many flows one PRNG stream makes: flow i comes from the
// stream of chunk i/chunkSize, so the flows depend on the seed only, not on
// how many workers make them.
const chunkSize = 1 << 16

// Flow is one simulated connection: a client's ephemeral port to a
// service port (80 or 443) of a virtual server, seen in one direction.
type Flow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// Key returns the flow's key by the contract (section 2): the side with the
// greater port, which is the client's (its ephemeral port is above 1023).
func (f Flow) Key() contract.Key {
	k, _ := contract.KeyForPorts(f.Src, f.SrcPort, f.Dst, f.DstPort)
	return k
}

// Ephemeral client ports: Linux's default net.ipv4.ip_local_port_range.
const (
	ephemeralLo = 32768
	ephemeralHi = 60999
)

// chunkRand returns the PRNG of a chunk of flows.
func chunkRand(seed uint64, chunk int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(chunk)*golden+0x5eed))
}

// randomFlow draws a flow. The client is a random unicast IPv4 address
// (first octet 1-223) or, with probability ipv6, a random address of
// 2001:db8::/32; the server one of 16 virtual addresses (198.51.100.1-16
// or 2001:db8:ffff::1-16) on port 80 or 443; the client's port is
// ephemeral (32768-60999). Half the flows are seen as the request (client
// to server), half as the reply: the key is the same (contract section 2).
func randomFlow(r *rand.Rand, ipv6 float64) Flow {
	var client, server netip.Addr
	if ipv6 > 0 && r.Float64() < ipv6 {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		x, y := r.Uint64(), r.Uint32()
		for i := range 8 {
			a[4+i] = byte(x >> (8 * i))
		}
		for i := range 4 {
			a[12+i] = byte(y >> (8 * i))
		}
		client = netip.AddrFrom16(a)
		s := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 15: byte(1 + r.IntN(16))}
		server = netip.AddrFrom16(s)
	} else {
		x := r.Uint32()
		client = netip.AddrFrom4([4]byte{byte(1 + (x>>24)%223), byte(x >> 16), byte(x >> 8), byte(x)})
		server = netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + r.IntN(16))})
	}
	cport := uint16(ephemeralLo + r.IntN(ephemeralHi-ephemeralLo+1))
	sport := uint16(80)
	if r.IntN(2) == 1 {
		sport = 443
	}
	if r.IntN(2) == 0 {
		return Flow{Src: client, Dst: server, SrcPort: cport, DstPort: sport}
	}
	return Flow{Src: server, Dst: client, SrcPort: sport, DstPort: cport}
}

// GenerateHashes returns the contract hash (CRC-32 of the key bytes) of
// each of n flows drawn from seed: flow i is the (i mod 65536)-th flow of
// chunk i/65536. Workers <= 0 means GOMAXPROCS. done, if not
// nil, is advanced by the flows made.
func GenerateHashes(seed uint64, n int, ipv6 float64, workers int, done *atomic.Int64) []uint32 {
	hs := make([]uint32, n)
	chunks := (n + chunkSize - 1) / chunkSize
	parallelChunks(chunks, workers, func(_, c int) {
		lo := c * chunkSize
		hi := min(lo+chunkSize, n)
		r := chunkRand(seed, c)
		for i := lo; i < hi; i++ {
			hs[i] = contract.Hash(randomFlow(r, ipv6).Key())
		}
		if done != nil {
			done.Add(int64(hi - lo))
		}
	})
	return hs
}

// parallelChunks runs f(w, c) for the chunks c = 0..chunks-1 on workers
// goroutines w = 0..workers-1 (GOMAXPROCS when workers <= 0).
func parallelChunks(chunks, workers int, f func(w, c int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, chunks)
	if workers <= 1 {
		for c := range chunks {
			f(0, c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				f(w, c)
			}
		})
	}
	wg.Wait()
}
