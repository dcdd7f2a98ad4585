// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/symdist/symdist/vectors"
)

// clientFrames are the vectors' frames received on the client port.
func clientFrames() [][]byte {
	var frames [][]byte
	for _, v := range vectors.Vectors() {
		if v.Port == vectors.PortClient {
			frames = append(frames, v.Frame)
		}
	}
	return frames
}

// writeNg writes frames to a pcapng file of one interface of link type lt,
// with gopacket's writer (as another tool would write it).
func writeNg(t *testing.T, lt layers.LinkType, frames [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{LinkType: lt, SnapLength: 65535}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, 0), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawIP returns the IP packets of untagged IPv4/IPv6 frames (Ethernet
// header cut) and the frames they came from; not those whose IP version
// disagrees with the EtherType (a raw IP capture cannot carry them).
func rawIP(frames [][]byte) (ips, from [][]byte) {
	for _, fr := range frames {
		v4 := len(fr) > 14 && bytes.Equal(fr[12:14], []byte{0x08, 0x00}) && fr[14]>>4 == 4
		v6 := len(fr) > 14 && bytes.Equal(fr[12:14], []byte{0x86, 0xdd}) && fr[14]>>4 == 6
		if v4 || v6 {
			ips, from = append(ips, fr[14:]), append(from, fr)
		}
	}
	return ips, from
}

func decideLines(t *testing.T, pcap string) []decision {
	t.Helper()
	out, err := runCmd(t, "decide", "--state", "../../test/vectors/state.txtpb", "--pcap", pcap, "--in-port", "1")
	if err != nil {
		t.Fatal(err)
	}
	var ds []decision
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var d decision
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("decide output (-%s +got):\n%s", golden, diff)
	}
}

// A pcapng of the same frames decides exactly as the pcap (the golden).
func TestDecidePcapngGolden(t *testing.T) {
	out, err := runCmd(t, "decide", "--state", "../../test/vectors/state.txtpb", "--pcap", writeNg(t, layers.LinkTypeEthernet, clientFrames()), "--in-port", "1")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/decide.golden.jsonl", []byte(out))
}

// Raw IP captures (link types 101, 228, 229) are decoded, not read as
// Ethernet: each packet is steered as the Ethernet frame it came from was,
// and says it was wrapped.
func TestDecideRawIP(t *testing.T) {
	ips, from := rawIP(clientFrames())
	var v4, v6 [][]byte
	for _, ip := range ips {
		if ip[0]>>4 == 4 {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	if len(v4) == 0 || len(v6) == 0 {
		t.Fatalf("%d IPv4 and %d IPv6 vectors", len(v4), len(v6))
	}
	eth := decideLines(t, writeNg(t, layers.LinkTypeEthernet, from))
	for _, tt := range []struct {
		name   string
		lt     layers.LinkType
		ips    [][]byte
		golden string
	}{
		{"raw 101", layers.LinkTypeRaw, ips, "testdata/decide.raw.golden.jsonl"},
		{"ipv4 228", layers.LinkTypeIPv4, v4, ""},
		{"ipv6 229", layers.LinkTypeIPv6, v6, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pcap := writeNg(t, tt.lt, tt.ips)
			got := decideLines(t, pcap)
			if len(got) != len(tt.ips) {
				t.Fatalf("%d lines for %d packets", len(got), len(tt.ips))
			}
			steered := 0
			for i, d := range got {
				if !d.RawIPWrapped {
					t.Errorf("packet %d: raw_ip_wrapped not set", i)
				}
				// Find the Ethernet frame this packet came from.
				j := 0
				for j < len(ips) && !bytes.Equal(ips[j], tt.ips[i]) {
					j++
				}
				want := eth[j]
				if want.TM == nil {
					continue // bridged by MAC: the wrapper's MAC decides
				}
				steered++
				want.Index, want.RawIPWrapped = d.Index, true
				if diff := cmp.Diff(want, d); diff != "" {
					t.Errorf("packet %d (-as Ethernet +as raw IP):\n%s", i, diff)
				}
			}
			if steered == 0 {
				t.Error("no packet steered")
			}
			if tt.golden != "" {
				out, _ := runCmd(t, "decide", "--state", "../../test/vectors/state.txtpb", "--pcap", pcap, "--in-port", "1")
				checkGolden(t, tt.golden, []byte(out))
			}
		})
	}
}

// A malformed capture: the lines of the packets before the fault, then an
// error naming the packet and its byte offset (a non-zero exit).
func TestDecideMalformedCaptures(t *testing.T) {
	frames := clientFrames()[:3]
	ng, err := os.ReadFile(writeNg(t, layers.LinkTypeEthernet, frames))
	if err != nil {
		t.Fatal(err)
	}
	// Where the third packet's block starts: the length of the file of the
	// first two.
	ng2, err := os.ReadFile(writeNg(t, layers.LinkTypeEthernet, frames[:2]))
	if err != nil {
		t.Fatal(err)
	}
	third := len(ng2)
	caplenBeyond := bytes.Clone(ng2)
	epb := third - (32 + (len(frames[1])+3)/4*4) // the second packet's block
	caplenBeyond[epb+20] = 0xff                  // its captured length (little-endian) now 255
	bomb := []byte{
		0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, // snaplen 2^32-1
		0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff, 1, 2, // caplen 0xfffffff0
	}
	sll, err := os.ReadFile(writeNg(t, layers.LinkTypeLinuxSLL, frames))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		file  []byte
		lines int
		want  string
	}{
		{"pcapng cut in its last packet", ng[:len(ng)-20], 2, fmt.Sprintf("packet 2 at byte %d: the file ends inside this record", third)},
		{"pcapng caplen beyond its block", caplenBeyond, 1, fmt.Sprintf("packet 1 at byte %d: captured length 255 exceeds its block", epb)},
		{"42-byte pcap claiming 4 GiB", bomb, 0, "packet 0 at byte 24: capture length exceeds snap length: 4294967280 > 262144"},
		{"unknown link type", sll, 0, "packet 0 at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runCmd(t, "decide", "--state", "../../test/vectors/state.txtpb", "--pcap", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error = %v, want %q after the file name", err, tt.want)
			}
			if got := strings.Count(out, "\n"); got != tt.lines {
				t.Errorf("%d lines before the error, want %d:\n%s", got, tt.lines, out)
			}
		})
	}
}
