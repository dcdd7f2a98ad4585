// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The demo runs end to end and its own checks hold: every reply reaches
// its request's TM, a failure moves only the failed TM's flows, exactly
// its share, and its return moves flows only to it.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	rep, err := Run(&out, nil, 500, true)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("demo checks failed:\n%s", out.String())
	}
	var decoded Report
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	down := rep.Rounds[1]
	if down.Moved != down.IdealMoved || down.PerTM[rep.FailedTM] != 0 {
		t.Errorf("failure moved %d flows, ideal %d; %d still on the failed TM", down.Moved, down.IdealMoved, down.PerTM[rep.FailedTM])
	}
	if back := rep.Rounds[2]; back.Moved == 0 || back.MovedOff != 0 {
		t.Errorf("return moved %d flows, %d between other TMs", back.Moved, back.MovedOff)
	}
}
