// SPDX-License-Identifier: Apache-2.0

// Package adminapi is the controller's admin API as its clients see it: the
// JSON types, an HTTP client, and the bucket-table watch protocol that TMs
// follow (docs/tmapi.md). It imports nothing of the controller, so a TM
// (symdist tm, symdist ports --watch, or a third party's) never links the
// P4Runtime controller.
//
// Client reads status and bucket tables, sends acks and weights, drains
// TMs, and plans and applies a new config (ConfigPlan, RejectedError).
// Client.Watch opens one watch stream; a Follower keeps one open
// (subscribing again with backoff), applies every table and acknowledges
// it. The controller serves these same types. Package adminapitest fakes
// the watch for subscribers' tests.
package adminapi

import "time"

// Status is what GET /api/status returns.
type Status struct {
	Switches []SwitchStatus `json:"switches"`
	Groups   []GroupStatus  `json:"groups"`
}

// SwitchStatus is one switch as the controller sees it.
type SwitchStatus struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Connected bool      `json:"connected"`
	Primary   bool      `json:"primary"`
	InSync    bool      `json:"in_sync"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Updates written by the last sync; 0 when the switch already held
	// the desired state.
	LastWritten int `json:"last_written"`
}

// GroupStatus is one group and its TMs.
type GroupStatus struct {
	Name      string     `json:"name"`
	ID        uint16     `json:"id"`
	DefaultTM string     `json:"default_tm"` // in effect (after failover)
	TMs       []TMStatus `json:"tms"`
}

// TMStatus is one TM.
type TMStatus struct {
	Name    string `json:"name"`
	ID      uint16 `json:"id"`
	Weight  int    `json:"weight"`
	Healthy bool   `json:"healthy"`
	Drained bool   `json:"drained"`
	Buckets int    `json:"buckets"`
	// Connections open through the TM, as it last reported them (POST
	// /api/tms/{tm}/report, within ReportStale); nil: no recent report.
	Connections *int64 `json:"connections,omitempty"`
}

// Report is the body of POST /api/tms/{tm}/report: what a TM says of
// itself every ReportInterval (symdist tm does), so that `symdist status`
// shows it and `symdist drain --wait` can wait for a drained TM's
// connections to end.
type Report struct {
	Connections int64 `json:"connections"` // open now
	// InUse: as in Ack, now.
	InUse []InUse `json:"in_use,omitempty"`
}

// InUse is the self ports a TM still has connections on in buckets it no
// longer owns, on one SNAT address, as ports.Ranges writes them
// ("8194,9000-9002"). A TM sends them with every ack and report; the
// controller passes them on in every table event (Held), and a TM that
// shares the address hands none of them out: from that address and port
// to the same server would be the four-tuple of the other TM's live
// connection, and the server would take the new SYN as an attack on it.
type InUse struct {
	SNAT  string `json:"snat"`
	Ports string `json:"ports"`
}

// Held is another TM's InUse, as a table event carries it.
type Held struct {
	TM    string `json:"tm"`
	SNAT  string `json:"snat"`
	Ports string `json:"ports"`
}

// ReportInterval is how often a TM reports; a report older than
// ReportStale is not shown.
const (
	ReportInterval = 2 * time.Second
	ReportStale    = 3 * ReportInterval
)

// BucketTable is what GET /api/groups/{group}/buckets returns; TMs compute
// their self-source ports from it.
type BucketTable struct {
	Group   string   `json:"group"`
	Buckets []string `json:"buckets"`
	// Chains are the buckets that moved in a planned change within the
	// chain window, and Peers the addresses TMs chain to.
	Chains []Chain `json:"chains,omitempty"`
	Peers  []Peer  `json:"peers,omitempty"`
	// Held are the self ports TMs of the group still use in buckets they
	// lost (InUse): no TM sharing their SNAT address may hand them out.
	Held []Held `json:"held,omitempty"`
}

// Chain is a previous owner of a bucket that moved within the chain
// window (config: chain_window). The bucket's current owner hands a packet
// of a connection it holds no state for to every previous owner of the
// bucket, one of which still serves it ("Chaining" in docs/tmapi.md); a
// bucket that moved more than once has one Chain per previous owner,
// latest first (at most 4). Previous is up: a previous owner that failed
// has no chain.
type Chain struct {
	Bucket   int    `json:"bucket"`
	Previous string `json:"previous"`
	// LeftMS is how long the chain stays, from when the controller sent
	// it; the TM drops it then without waiting for another table.
	LeftMS int64 `json:"left_ms"`
}

// Peer is how to reach a TM of the group on each distributor: a frame
// sent out of a TM's leg to that distributor with MACs[switch] as
// destination reaches the TM.
type Peer struct {
	TM   string            `json:"tm"`
	MACs map[string]string `json:"macs"` // switch name -> the TM's MAC there
}

// Event types of the watch stream (GET /api/watch), one JSON object a line.
const (
	EventHello = "hello" // first line: who the subscriber is
	EventTable = "table" // a bucket table to apply, then acknowledge
	EventPing  = "ping"  // keepalive, every PingInterval
)

// Kinds of table event.
const (
	// KindInitial is the first table of a stream: the table in force.
	KindInitial = "initial"
	// KindLoss takes buckets away (they read ""); the controller writes
	// no switch for them until the TMs that lose them acknowledge (or the
	// handover timeout passes).
	KindLoss = "loss"
	// KindGain gives buckets that every switch now holds.
	KindGain = "gain"
)

// Event is one line of the watch stream.
type Event struct {
	Type string `json:"type"`

	// Hello: the subscriber's id (for acks), whom it follows, and how
	// long the controller waits for an ack of a loss.
	Subscriber        string `json:"subscriber,omitempty"`
	TM                string `json:"tm,omitempty"`
	Group             string `json:"group,omitempty"`
	HandoverTimeoutMS int64  `json:"handover_timeout_ms,omitempty"`

	// Table: the group's table as far as self-source ports go: owner per
	// bucket, "" for a bucket nobody may allocate in right now (moving).
	// Versions grow by one per table within a controller's run.
	Version uint64   `json:"version,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Buckets []string `json:"buckets,omitempty"`
	// Chains and Peers as in BucketTable: every table event carries the
	// chains in force, so a watch started after a move gets them.
	Chains []Chain `json:"chains,omitempty"`
	Peers  []Peer  `json:"peers,omitempty"`
	Held   []Held  `json:"held,omitempty"`
}

// Ack is the body of POST /api/watch/{subscriber}/ack: the subscriber has
// applied every table up to Version.
type Ack struct {
	Version uint64 `json:"version"`
	// InUse: the self ports the TM still has connections on in the
	// buckets it no longer owns, at the time of the ack. The controller
	// publishes a gain only after the loss's ack, so the TM that gains a
	// bucket learns them in the same event.
	InUse []InUse `json:"in_use,omitempty"`
}

// Weight is the body of POST /api/tms/{tm}/weight.
type Weight struct {
	Weight int `json:"weight"`
}

// Protocol timing.
const (
	// PingInterval: the controller writes at least one line this often.
	PingInterval = 10 * time.Second
	// IdleLimit: a subscriber that reads nothing for this long treats the
	// stream as dead and subscribes again.
	IdleLimit = 3 * PingInterval
	// MaxLine bounds one line of the stream: the largest table the
	// contract allows (MaxTableBytes; a 4096-bucket table with names of
	// up to 64 bytes is under 300 KB).
	MaxLine = MaxTableBytes
)
