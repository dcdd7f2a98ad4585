// SPDX-License-Identifier: Apache-2.0

package p4rtserver

import (
	"fmt"
	"math/bits"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// headerLayout is a controller header (@controller_header) as the P4Info
// describes it: its fields in order, packed big-endian, bit after bit.
type headerLayout struct {
	name   string
	fields []*p4configv1.ControllerPacketMetadata_Metadata
	bits   int
}

func newHeaderLayout(info *p4configv1.P4Info, name string) (*headerLayout, error) {
	for _, c := range info.GetControllerPacketMetadata() {
		if c.GetPreamble().GetName() != name {
			continue
		}
		l := &headerLayout{name: name, fields: c.GetMetadata()}
		for _, f := range l.fields {
			if f.GetBitwidth() <= 0 {
				return nil, fmt.Errorf("p4rtserver: %s field %s has no bitwidth", name, f.GetName())
			}
			l.bits += int(f.GetBitwidth())
		}
		if l.bits%8 != 0 {
			return nil, fmt.Errorf("p4rtserver: %s is %d bits, not whole bytes", name, l.bits)
		}
		return l, nil
	}
	return nil, fmt.Errorf("p4rtserver: the P4Info has no controller header %q", name)
}

// isPadding reports whether a header field is padding, which a
// controller may leave out (it is then 0): its name starts with "_".
func isPadding(f *p4configv1.ControllerPacketMetadata_Metadata) bool {
	return strings.HasPrefix(f.GetName(), "_")
}

// encode builds the header from a PacketOut's metadata (spec §16.1): one
// value per field, by ID, each a bytestring that fits the field's width.
func (l *headerLayout) encode(md []*p4v1.PacketMetadata) ([]byte, error) {
	values := make(map[uint32][]byte, len(md))
	for _, m := range md {
		f := l.field(m.GetMetadataId())
		if f == nil {
			return nil, fmt.Errorf("%s has no metadata ID %d", l.name, m.GetMetadataId())
		}
		if _, dup := values[m.GetMetadataId()]; dup {
			return nil, fmt.Errorf("%s given twice", f.GetName())
		}
		v := m.GetValue()
		if len(v) == 0 {
			return nil, fmt.Errorf("%s: empty value", f.GetName())
		}
		if !fits(v, int(f.GetBitwidth())) {
			return nil, fmt.Errorf("%s: value 0x%x does not fit in %d bits", f.GetName(), v, f.GetBitwidth())
		}
		values[m.GetMetadataId()] = v
	}
	out := make([]byte, l.bits/8)
	pos := 0
	for _, f := range l.fields {
		v, ok := values[f.GetId()]
		if !ok && !isPadding(f) {
			return nil, fmt.Errorf("%s is missing", f.GetName())
		}
		w := int(f.GetBitwidth())
		for i := range w {
			if bit(v, w-1-i) {
				out[(pos+i)/8] |= 0x80 >> ((pos + i) % 8)
			}
		}
		pos += w
	}
	return out, nil
}

func (l *headerLayout) field(id uint32) *p4configv1.ControllerPacketMetadata_Metadata {
	for _, f := range l.fields {
		if f.GetId() == id {
			return f
		}
	}
	return nil
}

// bit returns bit j (0 the least significant) of the big-endian v.
func bit(v []byte, j int) bool {
	i := len(v) - 1 - j/8
	return i >= 0 && v[i]>>(j%8)&1 == 1
}

// fits reports whether the big-endian v has no bit set at or above w.
func fits(v []byte, w int) bool {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	return len(v) == 0 || 8*(len(v)-1)+bits.Len8(v[0]) <= w
}
