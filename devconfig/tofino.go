// SPDX-License-Identifier: Apache-2.0

package devconfig

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// TofinoPipeline is what the Tofino compiler (p4c's tofino back end, or
// bf-p4c) writes for one program: bf-rt.json, and per profile (a P4
// pipeline, usually "pipe") context.json and tofino.bin.
type TofinoPipeline struct {
	ProgramName string
	BfRt        []byte // bf-rt.json
	Profiles    []TofinoProfile
}

// TofinoProfile is one compiled P4 pipeline of a program.
type TofinoProfile struct {
	Name      string
	Context   []byte   // context.json
	Binary    []byte   // tofino.bin or tofino2.bin
	PipeScope []uint32 // hardware pipes it runs on; empty: all
}

// compilerConf is the part of the compiler's <program>.conf that names its
// output files (the same layout bf_switchd's own configuration uses).
type compilerConf struct {
	P4Devices []struct {
		P4Programs []struct {
			ProgramName string `json:"program-name"`
			BfrtConfig  string `json:"bfrt-config"`
			P4Pipelines []struct {
				Name      string   `json:"p4_pipeline_name"`
				Context   string   `json:"context"`
				Config    string   `json:"config"`
				PipeScope []uint32 `json:"pipe_scope"`
			} `json:"p4_pipelines"`
		} `json:"p4_programs"`
	} `json:"p4_devices"`
}

// maxFile bounds each file read: a compiled tofino.bin is a few MB; a path
// pointing at something else should fail, not fill memory.
const maxFile = 256 << 20

// LoadTofino reads a compiler output directory through its .conf file
// (confPath; relative paths in it are taken from its directory, as
// bf_switchd does, falling back to the conf file's own directory). Only
// profile is kept when it is not "".
func LoadTofino(confPath, profile string) (*TofinoPipeline, error) {
	raw, err := readBounded(confPath)
	if err != nil {
		return nil, err
	}
	var conf compilerConf
	if err := json.Unmarshal(raw, &conf); err != nil {
		return nil, fmt.Errorf("%s: not a Tofino compiler .conf file: %w", confPath, err)
	}
	if len(conf.P4Devices) == 0 || len(conf.P4Devices[0].P4Programs) == 0 {
		return nil, fmt.Errorf("%s: no p4_devices[0].p4_programs[0]", confPath)
	}
	prog := conf.P4Devices[0].P4Programs[0]
	dir := filepath.Dir(confPath)
	p := &TofinoPipeline{ProgramName: prog.ProgramName}
	if p.ProgramName == "" {
		return nil, fmt.Errorf("%s: program-name is empty", confPath)
	}
	if p.BfRt, err = readOutput(dir, prog.BfrtConfig, "bfrt-config"); err != nil {
		return nil, fmt.Errorf("%s: %w", confPath, err)
	}
	for _, pp := range prog.P4Pipelines {
		if profile != "" && pp.Name != profile {
			continue
		}
		pr := TofinoProfile{Name: pp.Name, PipeScope: pp.PipeScope}
		if pr.Context, err = readOutput(dir, pp.Context, "context"); err != nil {
			return nil, fmt.Errorf("%s: pipeline %q: %w", confPath, pp.Name, err)
		}
		if pr.Binary, err = readOutput(dir, pp.Config, "config"); err != nil {
			return nil, fmt.Errorf("%s: pipeline %q: %w", confPath, pp.Name, err)
		}
		p.Profiles = append(p.Profiles, pr)
	}
	if len(p.Profiles) == 0 {
		if profile != "" {
			return nil, fmt.Errorf("%s: no P4 pipeline (profile) named %q", confPath, profile)
		}
		return nil, fmt.Errorf("%s: no p4_pipelines", confPath)
	}
	return p, nil
}

// readOutput reads one file the .conf names. bf_switchd takes paths
// relative to the SDE install (share/<prog>/pipe/context.json); a compiler
// output directory copied elsewhere holds them beside the .conf, so the
// path is tried with its leading elements dropped one by one.
func readOutput(dir, name, field string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("%s is empty", field)
	}
	if filepath.IsAbs(name) {
		b, err := readBounded(name)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", field, name, err)
		}
		return b, nil
	}
	var firstErr error
	parts := strings.Split(filepath.ToSlash(name), "/")
	for i := range parts {
		b, err := readBounded(filepath.Join(dir, filepath.Join(parts[i:]...)))
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("%s %q: %w", field, name, firstErr)
}

func readBounded(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxFile {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a compiler output can be", path, st.Size(), maxFile)
	}
	return os.ReadFile(path)
}

// StratumConfig is the serialized stratum.hal.barefoot.BfPipelineConfig
// (stratum hal/lib/barefoot/bf.proto) that stratum_bfrt takes as
// p4_device_config:
//
//	message BfPipelineConfig {
//	  message Profile {
//	    string profile_name = 1; bytes context = 2; bytes binary = 3;
//	    repeated uint32 pipe_scope = 4;   // proto3: packed
//	  }
//	  string p4_name = 1; bytes bfruntime_info = 2; repeated Profile profiles = 3;
//	}
//
// Fields are written in field-number order and empty proto3 scalars are
// left out, as the C++ serializer does, so the bytes equal
// BfPipelineBuilder's.
func StratumConfig(p *TofinoPipeline) []byte {
	var b []byte
	b = appendString(b, 1, p.ProgramName)
	b = appendBytes(b, 2, p.BfRt)
	for _, pr := range p.Profiles {
		var m []byte
		m = appendString(m, 1, pr.Name)
		m = appendBytes(m, 2, pr.Context)
		m = appendBytes(m, 3, pr.Binary)
		if len(pr.PipeScope) > 0 {
			var packed []byte
			for _, s := range pr.PipeScope {
				packed = protowire.AppendVarint(packed, uint64(s))
			}
			m = protowire.AppendTag(m, 4, protowire.BytesType)
			m = protowire.AppendBytes(m, packed)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b
}

// BfSwitchdConfig is the serialized p4.tmp.P4DeviceConfig (PI
// proto/p4/tmp/p4config.proto: Extras extras = 1; bytes device_data = 2)
// that PI's DeviceMgr in bf_switchd --p4rt-server takes as
// p4_device_config. device_data is bf-drivers' packed blob for one
// profile: a little-endian u32 length and the program name, a u32 length
// and tofino.bin, a u32 length and context.json, then a u32 zero, because
// bf-drivers reads a fourth length (of a bf-rt.json it no longer uses)
// without checking that the blob has one.
func BfSwitchdConfig(p *TofinoPipeline) ([]byte, error) {
	if len(p.Profiles) != 1 {
		return nil, fmt.Errorf("bf_switchd takes one profile per program, %q has %d: name one in the config", p.ProgramName, len(p.Profiles))
	}
	pr := p.Profiles[0]
	var blob []byte
	for _, part := range [][]byte{[]byte(p.ProgramName), pr.Binary, pr.Context} {
		if uint64(len(part)) > math.MaxUint32 {
			return nil, errors.New("a part of the device config is over 4 GiB")
		}
		blob = binary.LittleEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	blob = binary.LittleEndian.AppendUint32(blob, 0)
	return appendBytes(nil, 2, blob), nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
