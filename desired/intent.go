// SPDX-License-Identifier: Apache-2.0

package desired

import (
	"encoding/json"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
)

// The operator's intent (today: which TMs are drained) lives in the
// switches, in the metadata of each TM's l2_forward entry, which every
// P4Runtime target keeps and returns on Read: part of the desired state,
// read back by whichever controller adopts the switches (controller's
// intent.go).

// IntentRecord is the metadata of a TM's l2_forward entry. An entry
// without metadata means no override: the TM follows its health check.
type IntentRecord struct {
	Version int    `json:"symdist_intent"` // 1
	TM      string `json:"tm"`
	Drained bool   `json:"drained,omitempty"`
}

const IntentVersion = 1

// WithIntent sets the metadata of e, the l2_forward entry of TM tm.
func WithIntent(e *p4v1.Entity, tm string, drained bool) *p4v1.Entity {
	if drained {
		md, _ := json.Marshal(IntentRecord{Version: IntentVersion, TM: tm, Drained: true})
		e.GetTableEntry().Metadata = md
	}
	return e
}
