// SPDX-License-Identifier: Apache-2.0

package devconfig

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

var small = &TofinoPipeline{
	ProgramName: "sd",
	BfRt:        []byte("{}"),
	Profiles:    []TofinoProfile{{Name: "pipe", Context: []byte("C"), Binary: []byte("B"), PipeScope: []uint32{0, 2}}},
}

// The golden bytes are written by hand from the layouts (bf.proto,
// p4config.proto, bf-drivers' blob), not produced by the code under test.
func TestGoldenBytes(t *testing.T) {
	bf, err := BfSwitchdConfig(small)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"stratum BfPipelineConfig", StratumConfig(small),
			"0a02" + hex.EncodeToString([]byte("sd")) + // p4_name = 1
				"1202" + hex.EncodeToString([]byte("{}")) + // bfruntime_info = 2
				"1a10" + // profiles = 3, 16 bytes
				"0a04" + hex.EncodeToString([]byte("pipe")) + // profile_name = 1
				"120143" + // context = 2, "C"
				"1a0142" + // binary = 3, "B"
				"22020002"}, // pipe_scope = 4, packed [0, 2]
		{"bf_switchd P4DeviceConfig", bf,
			"1214" + // device_data = 2, 20 bytes
				"02000000" + hex.EncodeToString([]byte("sd")) + // u32 LE + program name
				"01000000" + "42" + // u32 LE + tofino.bin
				"01000000" + "43" + // u32 LE + context.json
				"00000000"}, // the fourth length bf-drivers reads
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(tc.got); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// bfPipelineConfigDesc is stratum's bf.proto as a descriptor, so the real
// protobuf runtime decodes and re-encodes what StratumConfig writes.
func bfPipelineConfigDesc(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	byt := descriptorpb.FieldDescriptorProto_TYPE_BYTES
	u32 := descriptorpb.FieldDescriptorProto_TYPE_UINT32
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	f := func(name string, num int32, l descriptorpb.FieldDescriptorProto_Label, ty descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		d := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: &l, Type: &ty}
		if typeName != "" {
			d.TypeName = proto.String(typeName)
		}
		return d
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("bf.proto"), Package: proto.String("stratum.hal.barefoot"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("BfPipelineConfig"),
			Field: []*descriptorpb.FieldDescriptorProto{
				f("p4_name", 1, opt, str, ""), f("bfruntime_info", 2, opt, byt, ""),
				f("profiles", 3, rep, msg, ".stratum.hal.barefoot.BfPipelineConfig.Profile"),
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Profile"),
				Field: []*descriptorpb.FieldDescriptorProto{
					f("profile_name", 1, opt, str, ""), f("context", 2, opt, byt, ""),
					f("binary", 3, opt, byt, ""), f("pipe_scope", 4, rep, u32, ""),
				},
			}},
		}},
	}
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return file.Messages().ByName("BfPipelineConfig")
}

func TestStratumConfigDecodesWithProtobuf(t *testing.T) {
	p := &TofinoPipeline{ProgramName: "symdist", BfRt: []byte(strings.Repeat("r", 300)), Profiles: []TofinoProfile{
		{Name: "pipe", Context: []byte(strings.Repeat("c", 1000)), Binary: []byte(strings.Repeat("\x00\xff", 70000)), PipeScope: []uint32{0, 1, 2, 3}},
		{Name: "pipe2", Context: []byte("{}"), Binary: []byte{1}},
	}}
	got := StratumConfig(p)
	md := bfPipelineConfigDesc(t)
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(got, m); err != nil {
		t.Fatalf("protobuf cannot decode it: %v", err)
	}
	fields := md.Fields()
	if s := m.Get(fields.ByName("p4_name")).String(); s != "symdist" {
		t.Errorf("p4_name = %q", s)
	}
	profiles := m.Get(fields.ByName("profiles")).List()
	if profiles.Len() != 2 {
		t.Fatalf("%d profiles, want 2", profiles.Len())
	}
	pf := md.Fields().ByName("profiles").Message().Fields()
	p0 := profiles.Get(0).Message()
	if n := len(p0.Get(pf.ByName("binary")).Bytes()); n != 140000 {
		t.Errorf("binary is %d bytes, want 140000", n)
	}
	if n := p0.Get(pf.ByName("pipe_scope")).List().Len(); n != 4 {
		t.Errorf("pipe_scope has %d pipes, want 4", n)
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(again, got); diff != "" {
		t.Errorf("protobuf re-encodes it differently (-protobuf +ours):\n%s", diff)
	}
}

func TestBfSwitchdNeedsOneProfile(t *testing.T) {
	two := *small
	two.Profiles = append(append([]TofinoProfile(nil), small.Profiles...), TofinoProfile{Name: "pipe2"})
	if _, err := BfSwitchdConfig(&two); err == nil || !strings.Contains(err.Error(), "one profile") {
		t.Errorf("err = %v, want a one-profile error", err)
	}
}

// writeCompilerOutput lays out a directory the way the Tofino compiler
// does: <prog>.conf naming share/<prog>/bf-rt.json and share/<prog>/pipe/...
// with SDE-relative paths, the files themselves beside the .conf.
func writeCompilerOutput(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"symdist.conf": `{"chip_list":[{"chip_family":"tofino","instance":0}],
 "p4_devices":[{"device-id":0,"p4_programs":[{"program-name":"symdist",
  "bfrt-config":"share/tofinopd/symdist/bf-rt.json",
  "p4_pipelines":[{"p4_pipeline_name":"pipe","context":"share/tofinopd/symdist/pipe/context.json",
   "config":"share/tofinopd/symdist/pipe/tofino.bin","pipe_scope":[0,1,2,3]}]}]}]}`,
		"bf-rt.json":        `{"tables":[]}`,
		"pipe/context.json": `{"program_name":"symdist"}`,
		"pipe/tofino.bin":   "\x01\x02\x03",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "symdist.conf")
}

func TestLoadTofino(t *testing.T) {
	conf := writeCompilerOutput(t)
	got, err := LoadTofino(conf, "pipe")
	if err != nil {
		t.Fatal(err)
	}
	want := &TofinoPipeline{ProgramName: "symdist", BfRt: []byte(`{"tables":[]}`), Profiles: []TofinoProfile{{
		Name: "pipe", Context: []byte(`{"program_name":"symdist"}`), Binary: []byte{1, 2, 3}, PipeScope: []uint32{0, 1, 2, 3}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestLoadTofinoErrors(t *testing.T) {
	conf := writeCompilerOutput(t)
	dir := filepath.Dir(conf)
	bad := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, conf, profile, want string
	}{
		{"missing conf", filepath.Join(dir, "nope.conf"), "", "no such file"},
		{"conf is a directory", dir, "", "not a regular file"},
		{"not json", bad("a.conf", "hello"), "", "not a Tofino compiler .conf"},
		{"no program", bad("b.conf", `{"p4_devices":[]}`), "", "no p4_devices"},
		{"unknown profile", conf, "pipe9", `no P4 pipeline (profile) named "pipe9"`},
		{"missing binary", bad("c.conf", `{"p4_devices":[{"p4_programs":[{"program-name":"x","bfrt-config":"bf-rt.json",
			"p4_pipelines":[{"p4_pipeline_name":"pipe","context":"pipe/context.json","config":"pipe/tofino9.bin"}]}]}]}`), "", `config "pipe/tofino9.bin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTofino(tc.conf, tc.profile)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{"", BMv2, false}, {"bmv2", BMv2, false}, {"software", Software, false}, {"stratum", Stratum, false},
		{"bf_switchd", BfSwitchd, false}, {"preloaded", Preloaded, false}, {"tofino", "", true}, {"BMV2", "", true},
	} {
		got, err := ParseTarget(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseTarget(%q) = %q, %v", tc.in, got, err)
		}
	}
}
