// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"strings"
	"testing"

	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
)

const pairYAML = `# the pair's config
election_id: 20
admin: {listen: "127.0.0.1:9090", token: secret}
controllers: [http://127.0.0.1:9090, http://127.0.0.1:9091]
switches:
  - name: s1
    address: 127.0.0.1:9559
    device_id: 1
    ports: [{port: 1, role: edge}, {port: 2, role: tm}]
groups:
  - {name: web, id: 1, default_tm: tm1, rules: [{priority: 10, ip_version: 4, dst: 10.0.0.0/8}]}
tms:
  - name: tm1   # the first
    id: 1
    group: web
    ports: {s1: {port: 2, mac: "02:00:00:00:01:01"}}
    health: {type: none}
`

// The runtime weight edits the running config's text: the TM's weight is
// set (added when the file had none), the rest and the comments stay.
func TestSetTMWeight(t *testing.T) {
	out, err := setTMWeight([]byte(pairYAML), "tm1", 7)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("out.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if w := cfg.TM("tm1").Weight; w != 7 {
		t.Errorf("weight %d, want 7", w)
	}
	if !strings.Contains(string(out), "# the first") || !strings.Contains(string(out), "# the pair's config") {
		t.Errorf("comments lost:\n%s", out)
	}
	if _, err := setTMWeight([]byte(pairYAML), "tm9", 2); err == nil {
		t.Error("a TM the config lacks: no error")
	}
}

// One file serves both controllers: rebased, it carries the other's
// election_id and admin and hashes the same.
func TestRebaseAndSharedHash(t *testing.T) {
	own, err := config.Parse("own.yaml", []byte(strings.NewReplacer("election_id: 20", "election_id: 10", "127.0.0.1:9090\", token", "127.0.0.1:9091\", token").Replace(pairYAML)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := rebase([]byte(pairYAML), own)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse("out.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.ElectionID != 10 || got.Admin.Listen != "127.0.0.1:9091" || got.Admin.Token != "secret" {
		t.Errorf("rebased: election_id %d, admin %+v; want 10 and the own admin", got.ElectionID, got.Admin)
	}
	if sharedHash(out) != sharedHash([]byte(pairYAML)) {
		t.Error("the rebased config hashes differently: the pair would take it back and forth")
	}
	if sharedHash([]byte(strings.Replace(pairYAML, "health: {type: none}", "weight: 2\n    health: {type: none}", 1))) == sharedHash([]byte(pairYAML)) {
		t.Error("a weight change hashes the same")
	}
}

func TestConfigStampNewer(t *testing.T) {
	a := adminapi.ConfigStamp{AppliedUnixNano: 2, SHA256: "a"}
	for _, tt := range []struct {
		o    adminapi.ConfigStamp
		want bool
	}{
		{adminapi.ConfigStamp{AppliedUnixNano: 1, SHA256: "b"}, true},
		{adminapi.ConfigStamp{AppliedUnixNano: 1, SHA256: "a"}, false}, // the same config
		{adminapi.ConfigStamp{AppliedUnixNano: 3, SHA256: "b"}, false}, // older
	} {
		if got := a.Newer(tt.o); got != tt.want {
			t.Errorf("%+v newer than %+v: %v, want %v", a, tt.o, got, tt.want)
		}
	}
}
