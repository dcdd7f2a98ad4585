// SPDX-License-Identifier: Apache-2.0

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
)

var le = binary.LittleEndian

// ngBlock is a pcapng block of type typ around body (padded to 4 bytes).
func ngBlock(typ uint32, body []byte) []byte {
	body = append(body, make([]byte, (4-len(body)%4)%4)...)
	n := uint32(12 + len(body))
	b := le.AppendUint32(le.AppendUint32(nil, typ), n)
	return le.AppendUint32(append(b, body...), n)
}

// shb is a 28-byte section header block; idb a 20-byte interface block.
func shb() []byte {
	body := le.AppendUint32(nil, ngByteOrderMagic)
	body = le.AppendUint16(le.AppendUint16(body, 1), 0)
	return ngBlock(ngSectionHeader, le.AppendUint64(body, ^uint64(0)))
}

func idb(lt layers.LinkType) []byte {
	body := le.AppendUint16(le.AppendUint16(nil, uint16(lt)), 0)
	return ngBlock(ngInterfaceDescriptor, le.AppendUint32(body, 0))
}

// epb is an enhanced packet block on interface 0 whose captured length
// field says caplen (normally len(data)).
func epb(data []byte, caplen uint32) []byte {
	body := le.AppendUint32(nil, 0)                 // interface
	body = le.AppendUint64(body, 0)                 // timestamp
	body = le.AppendUint32(body, caplen)            // captured
	body = le.AppendUint32(body, uint32(len(data))) // original
	return ngBlock(ngEnhancedPacket, append(body, data...))
}

// pcapFile is a classic little-endian pcap with these records (caplen,
// then data).
func pcapFile(lt layers.LinkType, snaplen uint32, records ...[]byte) []byte {
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(le.AppendUint16(b, 2), 4)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint32(le.AppendUint32(b, snaplen), uint32(lt))
	for _, r := range records {
		b = append(b, r...)
	}
	return b
}

func pcapRecord(data []byte, caplen uint32) []byte {
	b := le.AppendUint64(nil, 0)
	b = le.AppendUint32(le.AppendUint32(b, caplen), max(caplen, uint32(len(data))))
	return append(b, data...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	frame60 = bytes.Repeat([]byte{0xab}, 60)
	frame61 = bytes.Repeat([]byte{0xcd}, 61)
	ipv4    = append([]byte{0x45}, bytes.Repeat([]byte{0}, 19)...)
	ipv6    = append([]byte{0x60}, bytes.Repeat([]byte{0}, 39)...)
)

// readAll reads every packet, copying each (Data is reused).
func readAll(file []byte) ([]Packet, error) {
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	var ps []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return ps, nil
		}
		if err != nil {
			return ps, err
		}
		p.Data = append([]byte{}, p.Data...)
		ps = append(ps, p)
	}
}

func TestGoodCaptures(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want []Packet
	}{
		{"pcap", pcapFile(layers.LinkTypeEthernet, 65535, pcapRecord(frame60, 60), pcapRecord(frame61, 61)),
			[]Packet{{0, 24, layers.LinkTypeEthernet, frame60}, {1, 24 + 16 + 60, layers.LinkTypeEthernet, frame61}}},
		{"pcap beyond its snap length", pcapFile(layers.LinkTypeEthernet, 32, pcapRecord(frame60, 60)),
			[]Packet{{0, 24, layers.LinkTypeEthernet, frame60}}},
		{"pcapng", cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60), epb(frame61, 61)),
			[]Packet{{0, 48, layers.LinkTypeEthernet, frame60}, {1, 48 + 92, layers.LinkTypeEthernet, frame61}}},
		{"pcapng two sections", cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60), shb(), idb(layers.LinkTypeIPv4), epb(ipv4, 20)),
			[]Packet{{0, 48, layers.LinkTypeEthernet, frame60}, {1, 48 + 92 + 48, layers.LinkTypeIPv4, ipv4}}},
		{"pcapng unknown block skipped", cat(shb(), idb(layers.LinkTypeRaw), ngBlock(0xbad, []byte("hello")), epb(ipv6, 40)),
			[]Packet{{0, 48 + 20, layers.LinkTypeRaw, ipv6}}},
		{"pcapng unused interface of another link type", cat(shb(), idb(layers.LinkTypeEthernet), idb(layers.LinkTypeLinuxSLL), epb(frame60, 60)),
			[]Packet{{0, 68, layers.LinkTypeEthernet, frame60}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
		})
	}
}

// Every malformed capture is an error naming the packet and the byte
// offset of its record, after the packets before it, and never an
// allocation of the size a record claims.
func TestMalformedCaptures(t *testing.T) {
	good := cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60), epb(frame61, 61))
	tests := []struct {
		name    string
		file    []byte
		packets int // read before the error
		want    string
	}{
		{"pcapng cut inside its last packet", good[:len(good)-10], 1, "packet 1 at byte 140: the file ends inside this record (truncated)"},
		{"pcapng cut inside a block head", good[:len(good)-len(epb(frame61, 61))+5], 1, "packet 1 at byte 140: the file ends inside this record"},
		{"pcapng caplen beyond its block", cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 61)), 0, "packet 0 at byte 48: captured length 61 exceeds its block (60 bytes of packet data)"},
		{"pcapng caplen of 4 GiB", cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 0xfffffff0)), 0, "packet 0 at byte 48: captured length 4294967280 exceeds its block"},
		{"pcapng packet over the limit", cat(shb(), idb(layers.LinkTypeEthernet), epb(make([]byte, MaxCaptureLength+4), MaxCaptureLength+4)), 0, "exceeds the 262144-byte limit"},
		{"pcapng block length not a multiple of 4", func() []byte {
			b := cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60))
			le.PutUint32(b[52:], 93)
			return b
		}(), 0, "packet 0 at byte 48: block length 93: want a multiple of 4"},
		{"pcapng block lengths disagree", func() []byte {
			b := cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60), epb(frame61, 61))
			le.PutUint32(b[140-4:], 96)
			return b
		}(), 0, "packet 0 at byte 48: block length 92 at its start but 96 at its end"},
		{"pcapng block length of 4 GiB", func() []byte {
			b := cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60))
			le.PutUint32(b[52:], 0xfffffff0)
			return b
		}(), 0, "packet 0 at byte 48: the file ends inside this record"}, // streamed over, never allocated
		{"pcapng packet before any interface", cat(shb(), epb(frame60, 60)), 0, "packet 0 at byte 28: interface 0: the section describes 0"},
		{"pcapng unsupported link type", cat(shb(), idb(layers.LinkTypeLinuxSLL), epb(frame60, 60)), 0, "packet 0 at byte 48: link type 113"},
		{"pcapng cut header", shb()[:20], 0, "file header at byte 0: the file ends inside this record"},
		{"pcapng wrong byte-order magic", func() []byte { b := shb(); b[8] = 0; return b }(), 0, "file header at byte 0: section header without the byte-order magic"},
		{"pcap of 42 bytes claiming 4 GiB", pcapFile(layers.LinkTypeEthernet, 0xffffffff, pcapRecord([]byte{1, 2}, 0xfffffff0)), 0, "packet 0 at byte 24: capture length exceeds snap length: 4294967280 > 262144"},
		{"pcap cut inside its last packet", pcapFile(layers.LinkTypeEthernet, 65535, pcapRecord(frame60, 60), pcapRecord(frame61, 61))[:24+76+30], 1, "packet 1 at byte 100: the file ends inside this record"},
		{"pcap cut after a record header", pcapFile(layers.LinkTypeEthernet, 65535, pcapRecord(frame60, 60), pcapRecord(nil, 61)), 1, "packet 1 at byte 100: the file ends inside this record"},
		{"pcap cut inside a record header", pcapFile(layers.LinkTypeEthernet, 65535, pcapRecord(frame60, 60))[:24+76+7], 1, "packet 1 at byte 100: the file ends inside this record"},
		{"pcap unsupported link type", pcapFile(layers.LinkTypeLinuxSLL, 65535, pcapRecord(frame60, 60)), 0, "file header at byte 0: link type 113 (Linux SLL) is not supported"},
		{"neither", []byte("not a capture at all, no"), 0, "neither pcap nor pcapng"},
		{"empty", nil, 0, "file header at byte 0: neither pcap nor pcapng"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *capture.Error", err)
			}
			if len(got) != tt.packets {
				t.Errorf("read %d packets before the error, want %d", len(got), tt.packets)
			}
		})
	}
}

func TestEthernet(t *testing.T) {
	eth := func(et uint16, ip []byte) []byte {
		return cat(RawIPDstMAC, RawIPSrcMAC, []byte{byte(et >> 8), byte(et)}, ip)
	}
	tests := []struct {
		name        string
		p           Packet
		want        []byte
		wantWrapped bool
		wantErr     string
	}{
		{"ethernet", Packet{LinkType: layers.LinkTypeEthernet, Data: frame60}, frame60, false, ""},
		{"raw ipv4", Packet{LinkType: layers.LinkTypeIPv4, Data: ipv4}, eth(0x0800, ipv4), true, ""},
		{"raw ipv6", Packet{LinkType: layers.LinkTypeIPv6, Data: ipv6}, eth(0x86dd, ipv6), true, ""},
		{"raw ip 4", Packet{LinkType: layers.LinkTypeRaw, Data: ipv4}, eth(0x0800, ipv4), true, ""},
		{"raw ip 6", Packet{LinkType: layers.LinkTypeRaw, Data: ipv6}, eth(0x86dd, ipv6), true, ""},
		{"raw ip 5", Packet{Index: 3, Offset: 99, LinkType: layers.LinkTypeRaw, Data: []byte{0x50, 0}}, nil, false, "packet 3 at byte 99: raw IP packet of 2 bytes with IP version 5"},
		{"raw ip empty", Packet{LinkType: layers.LinkTypeRaw}, nil, false, "with IP version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, wrapped, err := Ethernet(tt.p, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) || wrapped != tt.wantWrapped {
				t.Errorf("got %x wrapped %v, want %x wrapped %v", got, wrapped, tt.want, tt.wantWrapped)
			}
		})
	}
}
