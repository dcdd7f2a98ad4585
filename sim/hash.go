// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"encoding/binary"
	"hash/fnv"
)

// Seeds of the name hashes of the baselines. A seed is hashed (8 bytes,
// little endian) before the name, so the same FNV-1a function gives
// independent-looking hashes per seed.
const (
	seedMaglevOffset = 1 // Maglev h1: offset = h1(name) mod M
	seedMaglevSkip   = 2 // Maglev h2: skip = h2(name) mod (M-1) + 1
	seedRendezvous   = 3 // rendezvous: the node's seed
)

// nameHash is FNV-1a-64 (hash/fnv) of the 8 bytes of seed (little endian)
// followed by the name.
func nameHash(seed uint64, name string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(name))
	return h.Sum64()
}

// fmix64 is MurmurHash3's 64-bit finalizer: a bijection whose every output
// bit depends on every input bit.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// golden is 2^64 / phi, the multiplier that spreads the 32-bit flow hash
// over 64 bits before it is combined with a node's seed.
const golden = 0x9e3779b97f4a7c15

// IsPrime reports whether n is prime (trial division; n is a table size).
func IsPrime(n int) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := 3; d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// NextPrime returns the smallest prime >= n.
func NextPrime(n int) int {
	if n <= 2 {
		return 2
	}
	for !IsPrime(n) {
		n++
	}
	return n
}
