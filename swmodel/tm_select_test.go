package swmodel

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestKeyHashIsChecksumIEEE(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 10000; i++ {
		key := make([]byte, []int{0, 1, 6, 18, 100}[i%5])
		for j := range key {
			key[j] = byte(r.IntN(256))
		}
		if got, want := keyHash(key), crc32.ChecksumIEEE(key); got != want {
			t.Fatalf("keyHash(%x) = %#x, want %#x", key, got, want)
		}
	}
	if got := keyHash([]byte("123456789")); got != 0xCBF43926 {
		t.Fatalf("check value %#x", got)
	}
}
