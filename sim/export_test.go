// SPDX-License-Identifier: Apache-2.0

package sim

// FlowsOfChunk returns the n flows of a chunk (n <= chunkSize), for tests.
func FlowsOfChunk(seed uint64, chunk, n int, ipv6 float64) []Flow {
	r := chunkRand(seed, chunk)
	fs := make([]Flow, n)
	for i := range fs {
		fs[i] = randomFlow(r, ipv6)
	}
	return fs
}
