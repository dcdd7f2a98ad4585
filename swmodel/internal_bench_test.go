// SPDX-License-Identifier: Apache-2.0

package swmodel

import (
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/vectors"
)

// Stage costs of the IPv4 path, to see where Process spends its time.
func BenchmarkStages(b *testing.B) {
	p, _ := New(p4info.MustLoad())
	ids, _ := p.Schema().Resolve()
	if err := p.WriteAll(vectors.State(ids)); err != nil {
		b.Fatal(err)
	}
	frame := vectors.Flow(layers.IPProtocolTCP, vectors.ClientV4, 51234, vectors.VIPV4, 80, nil)
	var h headers
	var m localMetadata
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			h = noHeaders
			parse(frame, 1, &h, &m)
		}
	})
	h = noHeaders
	parse(frame, 1, &h, &m)
	b.Run("headerCheck", func(b *testing.B) {
		for b.Loop() {
			headerCheck(frame, &h, &m)
		}
	})
	b.Run("groupClassifier", func(b *testing.B) {
		for b.Loop() {
			p.view.Load().groupClassifier(frame, &h, &m)
		}
	})
	b.Run("keySelect", func(b *testing.B) {
		for b.Loop() {
			keySelect(frame, &h, &m)
		}
	})
	var res Result
	sm := standardMetadata{ingressPort: 1}
	b.Run("tmSelect", func(b *testing.B) {
		for b.Loop() {
			p.view.Load().tmSelect(frame, &h, &m, &sm)
		}
	})
	b.Run("ingress", func(b *testing.B) {
		for b.Loop() {
			p.ingress(p.view.Load(), frame, &h, &m, &sm)
		}
	})
	b.Run("Process", func(b *testing.B) {
		for b.Loop() {
			p.Process(1, frame, &res)
		}
	})
}
