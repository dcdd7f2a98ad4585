// SPDX-License-Identifier: Apache-2.0

package devconfig

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The packers fed the files a switch loads: what make tofino (and make
// tofino TOFINO_TARGET=tofino2) leave in out/tofino/TARGET, assembled by
// bfas. Each device config is taken apart field by field against its
// layout: field numbers and order, every length prefix equal to the size
// of the file it holds, the bytes equal to the file's, the trailing zero.

// tofinoOutDir is where make tofino writes a target's build; the tests read
// $SYMDIST_TOFINO_OUT/TARGET instead when it is set.
func tofinoOutDir(target string) string {
	if d := os.Getenv("SYMDIST_TOFINO_OUT"); d != "" {
		return filepath.Join(d, target)
	}
	return filepath.Join("..", "out", "tofino", target)
}

// compiledTofino is one assembled build, its files read directly (not
// through LoadTofino, which is under test too).
type compiledTofino struct {
	conf                  string
	bfrt, context, binary []byte
	pipeScope             []uint32
	binaryName            string
}

func loadCompiled(t *testing.T, target string) *compiledTofino {
	t.Helper()
	dir := tofinoOutDir(target)
	conf := filepath.Join(dir, "symdist.conf")
	bin := filepath.Join(dir, "pipe", target+".bin")
	for _, f := range []string{conf, bin} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no assembled %s build in %s (make tofino TOFINO_TARGET=%s, with bfas: make toolchain TOFINO=1)", target, dir, target)
		}
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c := &compiledTofino{conf: conf, binaryName: target + ".bin",
		bfrt: read(filepath.Join(dir, "bf-rt.json")), context: read(filepath.Join(dir, "pipe", "context.json")), binary: read(bin)}
	var cf compilerConf
	if err := json.Unmarshal(read(conf), &cf); err != nil {
		t.Fatal(err)
	}
	c.pipeScope = cf.P4Devices[0].P4Programs[0].P4Pipelines[0].PipeScope
	return c
}

// fieldsOf splits a protobuf message into its top-level fields, in order,
// failing on anything but length-delimited fields (all the layouts have).
type wireField struct {
	num protowire.Number
	val []byte
}

func fieldsOf(t *testing.T, what string, b []byte) []wireField {
	t.Helper()
	var out []wireField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: bad tag: %v", what, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			t.Fatalf("%s: field %d has wire type %d, want length-delimited", what, num, typ)
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			t.Fatalf("%s: field %d: %v", what, num, protowire.ParseError(m))
		}
		out = append(out, wireField{num, v})
		b = b[m:]
	}
	return out
}

func nums(fs []wireField) []protowire.Number {
	var n []protowire.Number
	for _, f := range fs {
		n = append(n, f.num)
	}
	return n
}

func TestPackersOnCompiledTofino(t *testing.T) {
	for _, target := range []string{"tofino", "tofino2"} {
		t.Run(target, func(t *testing.T) {
			c := loadCompiled(t, target)
			t.Logf("%s: %s %d bytes, context.json %d bytes, bf-rt.json %d bytes, pipe_scope %v",
				target, c.binaryName, len(c.binary), len(c.context), len(c.bfrt), c.pipeScope)
			if len(c.binary) == 0 || len(c.context) == 0 || len(c.bfrt) == 0 {
				t.Fatal("an empty compiler output")
			}

			p, err := LoadTofino(c.conf, "pipe")
			if err != nil {
				t.Fatal(err)
			}
			if p.ProgramName != "symdist" || len(p.Profiles) != 1 || p.Profiles[0].Name != "pipe" {
				t.Fatalf("LoadTofino: program %q, %d profiles", p.ProgramName, len(p.Profiles))
			}
			pr := p.Profiles[0]
			if !bytes.Equal(p.BfRt, c.bfrt) || !bytes.Equal(pr.Context, c.context) || !bytes.Equal(pr.Binary, c.binary) {
				t.Fatal("LoadTofino read other bytes than the compiler's bf-rt.json, context.json, binary")
			}
			if !slices.Equal(pr.PipeScope, c.pipeScope) || len(c.pipeScope) == 0 {
				t.Errorf("pipe scope %v, the .conf's %v", pr.PipeScope, c.pipeScope)
			}

			t.Run("stratum", func(t *testing.T) { checkStratumBytes(t, StratumConfig(p), c) })
			t.Run("bf_switchd", func(t *testing.T) {
				b, err := BfSwitchdConfig(p)
				if err != nil {
					t.Fatal(err)
				}
				checkBfSwitchdBytes(t, b, c)
			})
		})
	}
}

// checkStratumBytes takes a BfPipelineConfig apart by hand (bf.proto:
// p4_name 1, bfruntime_info 2, profiles 3 {profile_name 1, context 2,
// binary 3, pipe_scope 4 packed}), then has the protobuf runtime decode it
// from the descriptor and re-encode it to the same bytes.
func checkStratumBytes(t *testing.T, b []byte, c *compiledTofino) {
	top := fieldsOf(t, "BfPipelineConfig", b)
	if got, want := nums(top), []protowire.Number{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v (p4_name, bfruntime_info, one profile)", got, want)
	}
	if string(top[0].val) != "symdist" {
		t.Errorf("p4_name = %q", top[0].val)
	}
	if !bytes.Equal(top[1].val, c.bfrt) {
		t.Errorf("bfruntime_info: %d bytes, not bf-rt.json's %d", len(top[1].val), len(c.bfrt))
	}
	prof := fieldsOf(t, "Profile", top[2].val)
	if got, want := nums(prof), []protowire.Number{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("profile fields %v, want %v", got, want)
	}
	if string(prof[0].val) != "pipe" {
		t.Errorf("profile_name = %q", prof[0].val)
	}
	if !bytes.Equal(prof[1].val, c.context) {
		t.Errorf("context: %d bytes, not context.json's %d", len(prof[1].val), len(c.context))
	}
	if !bytes.Equal(prof[2].val, c.binary) {
		t.Errorf("binary: %d bytes, not %s's %d", len(prof[2].val), c.binaryName, len(c.binary))
	}
	var scope []uint32
	for rest := prof[3].val; len(rest) > 0; {
		v, n := protowire.ConsumeVarint(rest)
		if n < 0 {
			t.Fatalf("pipe_scope: %v", protowire.ParseError(n))
		}
		scope = append(scope, uint32(v))
		rest = rest[n:]
	}
	if !slices.Equal(scope, c.pipeScope) {
		t.Errorf("pipe_scope %v, the .conf's %v", scope, c.pipeScope)
	}
	// The sizes: every length prefix is its file's size, and the message is
	// exactly the sum of tags, prefixes and files.
	want := 0
	for _, f := range [][]byte{[]byte("pipe"), c.context, c.binary, prof[3].val} {
		want += 1 + protowire.SizeVarint(uint64(len(f))) + len(f)
	}
	if len(top[2].val) != want {
		t.Errorf("profile is %d bytes, tags + lengths + contents are %d", len(top[2].val), want)
	}
	want2 := 0
	for _, f := range [][]byte{[]byte("symdist"), c.bfrt, top[2].val} {
		want2 += 1 + protowire.SizeVarint(uint64(len(f))) + len(f)
	}
	if len(b) != want2 {
		t.Errorf("BfPipelineConfig is %d bytes, tags + lengths + contents are %d", len(b), want2)
	}

	md := bfPipelineConfigDesc(t)
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("protobuf cannot decode it: %v", err)
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Error("protobuf re-encodes the BfPipelineConfig to other bytes")
	}
	t.Logf("BfPipelineConfig %d bytes: p4_name 7, bfruntime_info %d, profile %d (context %d, binary %d, pipe_scope %v)",
		len(b), len(c.bfrt), len(top[2].val), len(c.context), len(c.binary), scope)
}

// checkBfSwitchdBytes takes a P4DeviceConfig apart (p4config.proto:
// device_data 2, nothing else) and its device_data by bf-drivers' layout:
// u32 LE length + program name, u32 + binary, u32 + context.json, u32 0.
func checkBfSwitchdBytes(t *testing.T, b []byte, c *compiledTofino) {
	top := fieldsOf(t, "P4DeviceConfig", b)
	if got, want := nums(top), []protowire.Number{2}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v (device_data only)", got, want)
	}
	blob := top[0].val
	off := 0
	u32 := func(what string) uint32 {
		if off+4 > len(blob) {
			t.Fatalf("device_data ends at %d, before the length of %s", len(blob), what)
		}
		v := binary.LittleEndian.Uint32(blob[off:])
		off += 4
		return v
	}
	for _, part := range []struct {
		what string
		want []byte
	}{{"the program name", []byte("symdist")}, {c.binaryName, c.binary}, {"context.json", c.context}} {
		n := u32(part.what)
		if int(n) != len(part.want) {
			t.Fatalf("length of %s is %d, want %d", part.what, n, len(part.want))
		}
		if off+int(n) > len(blob) || !bytes.Equal(blob[off:off+int(n)], part.want) {
			t.Fatalf("%s: the %d bytes at %d are not the file's", part.what, n, off)
		}
		off += int(n)
	}
	if z := u32("the trailing zero"); z != 0 {
		t.Errorf("the fourth length is %d, want 0 (no pipeline name: bf-drivers reads no bf-rt.json)", z)
	}
	if off != len(blob) {
		t.Errorf("device_data has %d bytes after the trailing zero", len(blob)-off)
	}
	if want := 4 + 7 + 4 + len(c.binary) + 4 + len(c.context) + 4; len(blob) != want {
		t.Errorf("device_data is %d bytes, want %d", len(blob), want)
	}
	t.Logf("P4DeviceConfig %d bytes: device_data %d = 4 + 7 + 4 + %d + 4 + %d + 4", len(b), len(blob), len(c.binary), len(c.context))
}
