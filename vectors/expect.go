// SPDX-License-Identifier: Apache-2.0

package vectors

import (
	"fmt"
	"slices"

	"github.com/symdist/symdist/contract"
)

// Output is one frame leaving the switch.
type Output struct {
	Port  uint16
	Frame []byte
}

// Vector is a case with its expected outputs, as stored in a vector file.
type Vector struct {
	Name   string
	Port   uint16
	Frame  []byte
	Expect []Output // sorted by port; none when dropped
	Trace  string   // what the model's trace must say (group, key, reason, TM)
}

// Expect computes what the fixture switch must do with c, from the
// contract and the fixture alone.
func Expect(c Case) Vector {
	v := Vector{Name: c.Name, Port: c.Port, Frame: c.Frame}
	steer := func(tm int, group uint16, key string, reason string) {
		t := TMs[tm]
		out := append([]byte(nil), c.Frame...)
		copy(out, t.MAC)
		v.Expect = []Output{{Port: t.Port, Frame: out}}
		v.Trace = fmt.Sprintf("group=%d %sreason=%s tm=%d", group, key, reason, t.ID)
	}
	w := c.Want
	switch w.Kind {
	case KindHashed:
		h := contract.Hash(w.Key)
		b := contract.Bucket(h, contract.DefaultBuckets)
		key := fmt.Sprintf("key=%s bucket=%d ", keyString(w.Key), b)
		if o := BucketOwner(w.Group, b); o >= 0 {
			steer(o, w.Group, key, w.Reason)
		} else {
			steer(DefaultTMOf[w.Group], w.Group, key, w.Reason)
		}
	case KindDefault:
		steer(DefaultTMOf[w.Group], w.Group, "", w.Reason)
	case KindDirect:
		steer(w.TM, 0, "", w.Reason)
		v.Trace = fmt.Sprintf("reason=direct tm=%d", TMs[w.TM].ID)
	case KindBridge:
		v.Trace = "bridged"
		for _, p := range bridgePorts(c) {
			v.Expect = append(v.Expect, Output{Port: p, Frame: c.Frame})
		}
	case KindDrop:
		v.Trace = "drop=" + w.Reason
	}
	return v
}

func keyString(k contract.Key) string {
	return fmt.Sprintf("%s:%d", k.Addr, k.Port)
}

// bridgePorts is where l2_forward and the flood group send a frame.
func bridgePorts(c Case) []uint16 {
	dst := c.Frame[:6]
	known := map[string]uint16{string(ServerMAC): PortServer, string(ClientMAC): PortClient}
	for _, tm := range TMs {
		known[string(tm.MAC)] = tm.Port
	}
	var ports []uint16
	if p, ok := known[string(dst)]; ok {
		ports = []uint16{p}
	} else {
		ports = slices.Clone(FloodPorts)
	}
	return slices.DeleteFunc(ports, func(p uint16) bool { return p == c.Port })
}

// Vectors returns every case with its expectation.
func Vectors() []Vector {
	cs := Cases()
	vs := make([]Vector, len(cs))
	for i, c := range cs {
		vs[i] = Expect(c)
	}
	return vs
}
