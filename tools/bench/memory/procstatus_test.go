// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcMemory(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    procMemory
		wantErr string
	}{
		{
			name:   "both",
			status: "Name:\tsimple_switch_g\nVmPeak:\t  900000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1780 kB\nThreads:\t12\n",
			want:   procMemory{RSS: 1780 * 1024, HWM: 2048 * 1024},
		},
		{
			name:    "kernel thread has neither",
			status:  "Name:\tkthreadd\nState:\tS (sleeping)\n",
			wantErr: "no VmRSS and VmHWM",
		},
		{
			name:    "only one",
			status:  "VmRSS:\t    1780 kB\n",
			wantErr: "no VmRSS and VmHWM",
		},
		{
			name:    "not kB",
			status:  "VmHWM:\t2 MB\nVmRSS:\t1 MB\n",
			wantErr: "want a size in kB",
		},
		{
			name:    "not a number",
			status:  "VmHWM:\tlots kB\nVmRSS:\t1 kB\n",
			wantErr: "invalid syntax",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcMemory(strings.NewReader(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseProcCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr string
	}{
		{
			name: "plain name",
			stat: "16065 (simple_switch_g) S 1 16065 1 0 -1 4194560 60000 0 0 0 2512 311 0 0 20 0 12 0 1000 900000000 120000\n",
			want: 28230 * time.Millisecond,
		},
		{
			name: "name with spaces and parentheses",
			stat: "7 (a) b (c) R 1 7 1 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 1 1\n",
			want: 120 * time.Millisecond,
		},
		{name: "no name", stat: "7 R 1", wantErr: "no command name"},
		{name: "cut short", stat: "7 (x) R 1 7 1 0 -1 0 0 0 0 0 5", wantErr: "want at least 13"},
		{name: "not a number", stat: "7 (x) R 1 7 1 0 -1 0 0 0 0 0 5 x 0 0 20", wantErr: "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcCPU(tt.stat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestReadProcMemorySelf(t *testing.T) {
	m, err := readProcMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.HWM < m.RSS {
		t.Fatalf("this process: %+v; want RSS > 0 and HWM >= RSS", m)
	}
}
