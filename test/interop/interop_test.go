//go:build interop_client

// SPDX-License-Identifier: Apache-2.0

// Package interop_test holds the P4Runtime switches of this project (the
// software switch, and bmv2 where installed) against a client written by
// others: github.com/antoninbas/p4runtime-go-client, through its own API.
package interop_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/symdist/symdist/internal/ifswitch"

	"github.com/antoninbas/p4runtime-go-client/pkg/client"
	"github.com/antoninbas/p4runtime-go-client/pkg/util/conversion"
	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// target is a P4Runtime server under test.
type target struct {
	addr     string
	deviceID uint64
	// pipeline is the data plane to send packets through; nil when the
	// test cannot (bmv2 without ports).
	pipeline func() *swmodel.Pipeline
	// writesCounters: the target takes counter MODIFY (bmv2 does; the
	// software switch answers UNIMPLEMENTED, as its README says).
	writesCounters bool
	// lenientPI: the target is bmv2 1.15.5 behind PI 0.1.2, which takes an
	// action-profile group on a profile without selector (PI does not
	// check) and answers a member still in use with UNKNOWN instead of the
	// spec's FAILED_PRECONDITION. Those checks are logged for it, not
	// failed: they hold our switch to the spec, not the library.
	lenientPI bool
	// injected receives the packet-outs the switch injects, and packetIn
	// sends one to the primary; nil where the test cannot see them.
	injected chan []byte
	packetIn func(frame []byte) bool
}

func softSwitch(t *testing.T) target {
	injected := make(chan []byte, 16)
	srv := p4rtserver.New(p4rtserver.Config{DeviceID: 1, Inject: func(_ uint16, frame []byte) { injected <- frame }})
	g := grpc.NewServer(srv.ServerOptions()...)
	srv.Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return target{addr: ln.Addr().String(), deviceID: 1, pipeline: srv.Pipeline, injected: injected,
		packetIn: func(frame []byte) bool { return srv.SendPacketIn(frame) }}
}

func bmv2(t *testing.T) target {
	if why := ifswitch.BMv2Missing(); why != "" {
		t.Skip(why)
	}
	tg, err := ifswitch.StartBMv2(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Stop)
	return target{addr: tg.Addr, deviceID: tg.DeviceID, writesCounters: true, lenientPI: true}
}

// connect makes a client of the community's library, arbitrated with
// election id electionID, and waits until it is primary (or, for a
// lower id, told it is not).
func connect(t *testing.T, tg target, electionID uint64, wantPrimary bool) (*client.Client, chan *p4v1.StreamMessageResponse) {
	t.Helper()
	conn, err := grpc.NewClient(tg.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(p4v1.NewP4RuntimeClient(conn), tg.deviceID, &p4v1.Uint128{Low: electionID})
	stop := make(chan struct{})
	arbitration := make(chan bool, 16)
	messages := make(chan *p4v1.StreamMessageResponse, 64)
	go c.Run(stop, arbitration, messages)
	t.Cleanup(func() { close(stop); conn.Close() })
	select {
	case primary := <-arbitration:
		if primary != wantPrimary {
			t.Fatalf("election id %d: primary %v, want %v", electionID, primary, wantPrimary)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no arbitration answer")
	}
	return c, messages
}

// canonical returns m as a server reads it back: every action parameter in
// canonical form (the library sends them as given; the server answers
// canonical bytestrings) and match fields by ID.
func canonical[T proto.Message](m T) T {
	m = proto.Clone(m).(T)
	var walk func(a *p4v1.Action)
	walk = func(a *p4v1.Action) {
		for _, p := range a.GetParams() {
			p.Value = conversion.ToCanonicalBytestring(p.Value)
		}
	}
	switch x := any(m).(type) {
	case *p4v1.TableEntry:
		walk(x.GetAction().GetAction())
		// The library builds the match from a Go map, in random order;
		// match fields are a set, read back in field-ID order.
		slices.SortFunc(x.Match, func(a, b *p4v1.FieldMatch) int { return int(a.FieldId) - int(b.FieldId) })
	case *p4v1.ActionProfileMember:
		walk(x.GetAction())
	}
	return m
}

func mustBytes(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} } // full width, not canonical

func sortEntries(es []*p4v1.TableEntry) {
	slices.SortFunc(es, func(a, b *p4v1.TableEntry) int {
		x, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&p4v1.TableEntry{Match: a.Match, Priority: a.Priority})
		y, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&p4v1.TableEntry{Match: b.Match, Priority: b.Priority})
		return strings.Compare(string(x), string(y))
	})
}

// explain adds the per-update errors of a failed Write (the library
// returns the gRPC status without decoding them).
func explain(err error) string {
	s, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	msg := s.Message()
	for _, d := range s.Details() {
		if e, ok := d.(*p4v1.Error); ok && e.GetCanonicalCode() != 0 {
			msg += "; " + codes.Code(e.GetCanonicalCode()).String() + ": " + e.GetMessage()
		}
	}
	return msg
}

// codeOf is the code of a failed call; for a Write of one update, that
// update's code.
func codeOf(err error) codes.Code {
	s, _ := status.FromError(err)
	for _, d := range s.Details() {
		if e, ok := d.(*p4v1.Error); ok && e.GetCanonicalCode() != 0 {
			return codes.Code(e.GetCanonicalCode())
		}
	}
	return s.Code()
}

func TestCommunityClient(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(*testing.T) target
	}{{"software", softSwitch}, {"bmv2", bmv2}} {
		t.Run(tt.name, func(t *testing.T) { programAndReadBack(t, tt.start(t)) })
	}
}

func programAndReadBack(t *testing.T, tg target) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, messages := connect(t, tg, 10, true)

	// The pipeline, from files as the library wants it.
	dir := t.TempDir()
	p4infoPath, jsonPath := filepath.Join(dir, "p4info.txtpb"), filepath.Join(dir, "symdist.json")
	if err := os.WriteFile(p4infoPath, []byte(prototext.Format(p4info.MustLoad().Info)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonPath, p4info.BMv2JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	cookie := p4info.Cookie()
	if _, err := c.SetFwdPipe(ctx, jsonPath, p4infoPath, cookie); err != nil {
		t.Fatalf("SetFwdPipe: %s", explain(err))
	}
	if got, err := c.GetFwdPipe(ctx, client.GetFwdPipeCookieOnly); err != nil || got.Cookie != cookie {
		t.Fatalf("GetFwdPipe: %+v, %v; want cookie %d", got, err, cookie)
	}

	tmMAC := mustBytes(conversion.MacToBinary("02:00:00:00:01:01"))
	tmAddr := mustBytes(conversion.IpToBinary("10.0.1.1"))
	vip := append(make([]byte, 12), mustBytes(conversion.IpToBinary("10.0.0.100"))...)
	mask32 := append(make([]byte, 12), 0xff, 0xff, 0xff, 0xff)
	sendToTM := [][]byte{u16(1), u16(2), tmMAC} // tm_id 1, port 2, its MAC
	exact := func(v []byte) *client.ExactMatch { return &client.ExactMatch{Value: v} }

	tables := map[string][]*p4v1.TableEntry{
		p4info.TablePortRole: {
			c.NewTableEntry(p4info.TablePortRole, map[string]client.MatchInterface{"ingress_port": exact(u16(1))},
				c.NewTableActionDirect(p4info.ActionSetPortRole, [][]byte{{1}}), nil), // edge
			c.NewTableEntry(p4info.TablePortRole, map[string]client.MatchInterface{"ingress_port": exact(u16(2))},
				c.NewTableActionDirect(p4info.ActionSetPortRole, [][]byte{{2}}), nil), // tm
		},
		p4info.TableL2Forward: {
			c.NewTableEntry(p4info.TableL2Forward, map[string]client.MatchInterface{"dst_addr": exact(tmMAC)},
				c.NewTableActionDirect(p4info.ActionForward, [][]byte{u16(2)}), nil),
		},
		p4info.TableGroupClassifier: {
			c.NewTableEntry(p4info.TableGroupClassifier, map[string]client.MatchInterface{
				"ip_version": &client.TernaryMatch{Value: []byte{4}, Mask: []byte{0x0f}},
				"ip_dst":     &client.TernaryMatch{Value: vip, Mask: mask32},
			}, c.NewTableActionDirect(p4info.ActionSetGroup, [][]byte{u16(1)}), &client.TableEntryOptions{Priority: 10}),
		},
		p4info.TableTMAddressV4: {
			c.NewTableEntry(p4info.TableTMAddressV4, map[string]client.MatchInterface{"dst_addr": exact(tmAddr)},
				c.NewTableActionDirect(p4info.ActionSendToTM, sendToTM), nil),
		},
		p4info.TableBucketTable: {
			c.NewTableEntry(p4info.TableBucketTable, map[string]client.MatchInterface{"group_id": exact(u16(1)), "bucket": exact(u16(7))},
				c.NewTableActionMember(1), nil),
		},
		p4info.TableDefaultTM: {
			c.NewTableEntry(p4info.TableDefaultTM, map[string]client.MatchInterface{"group_id": exact(u16(1))},
				c.NewTableActionDirect(p4info.ActionSendToTM, sendToTM), nil),
		},
	}
	member := c.NewActionProfileMember(p4info.ActionProfileTMMembers, 1, p4info.ActionSendToTM, sendToTM)

	// Members before the entries that use them.
	if err := c.InsertActionProfileMember(ctx, member); err != nil {
		t.Fatalf("InsertActionProfileMember: %s", explain(err))
	}
	if err := c.InsertMulticastGroup(ctx, 1, []uint32{1, 2}); err != nil {
		t.Fatalf("InsertMulticastGroup: %s", explain(err))
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range tables {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		for _, e := range tables[name] {
			if err := c.InsertTableEntry(ctx, e); err != nil {
				t.Fatalf("InsertTableEntry %s: %s", name, explain(err))
			}
		}
	}

	readBack := func(when string) {
		t.Helper()
		for _, name := range names {
			got, err := c.ReadTableEntryWildcard(ctx, name)
			if err != nil {
				t.Fatalf("%s: ReadTableEntryWildcard %s: %v", when, name, err)
			}
			var want []*p4v1.TableEntry
			for _, e := range tables[name] {
				want = append(want, canonical(e))
			}
			sortEntries(got)
			sortEntries(want)
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("%s: %s read back (-written +read):\n%s", when, name, diff)
			}
		}
		got, err := c.ReadEntitySingle(ctx, &p4v1.Entity{Entity: &p4v1.Entity_ActionProfileMember{
			ActionProfileMember: &p4v1.ActionProfileMember{ActionProfileId: member.ActionProfileId, MemberId: 1}}})
		if err != nil {
			t.Fatalf("%s: reading the member: %v", when, err)
		}
		if diff := cmp.Diff(canonical(member), got.GetActionProfileMember(), protocmp.Transform()); diff != "" {
			t.Errorf("%s: member read back (-written +read):\n%s", when, diff)
		}
	}
	readBack("after insert")

	// One entry by its match, with the library's ReadTableEntry (which
	// numbers match fields 1, 2, ... in order).
	if got, err := c.ReadTableEntry(ctx, p4info.TablePortRole, []client.MatchInterface{exact(u16(2))}); err != nil {
		t.Errorf("ReadTableEntry: %s", explain(err))
	} else if diff := cmp.Diff(canonical(tables[p4info.TablePortRole][1]), got, protocmp.Transform()); diff != "" {
		t.Errorf("ReadTableEntry (-written +read):\n%s", diff)
	}

	// The multicast group as written.
	pre, err := c.ReadEntitySingle(ctx, &p4v1.Entity{Entity: &p4v1.Entity_PacketReplicationEngineEntry{
		PacketReplicationEngineEntry: &p4v1.PacketReplicationEngineEntry{Type: &p4v1.PacketReplicationEngineEntry_MulticastGroupEntry{
			MulticastGroupEntry: &p4v1.MulticastGroupEntry{MulticastGroupId: 1}}}}})
	if err != nil {
		t.Errorf("reading the multicast group: %s", explain(err))
	} else {
		var ports []uint32
		for _, r := range pre.GetPacketReplicationEngineEntry().GetMulticastGroupEntry().GetReplicas() {
			ports = append(ports, r.GetEgressPort())
		}
		slices.Sort(ports) // replicas of one instance: the order is the target's
		if !slices.Equal(ports, []uint32{1, 2}) {
			t.Errorf("multicast group 1: ports %v, want [1 2]", ports)
		}
	}

	// Modify an entry and the member, and read them back.
	l2 := tables[p4info.TableL2Forward][0]
	l2.Action = c.NewTableActionDirect(p4info.ActionForward, [][]byte{u16(1)})
	if err := c.ModifyTableEntry(ctx, l2); err != nil {
		t.Fatalf("ModifyTableEntry: %s", explain(err))
	}
	member = c.NewActionProfileMember(p4info.ActionProfileTMMembers, 1, p4info.ActionSendToTM, [][]byte{u16(1), u16(3), tmMAC})
	if err := c.ModifyActionProfileMember(ctx, member); err != nil {
		t.Fatalf("ModifyActionProfileMember: %s", explain(err))
	}
	readBack("after modify")

	// Spec 9.1: an entry's metadata is the controller's, stored and read
	// back as written.
	withMeta := c.NewTableEntry(p4info.TableTMAddressV4, map[string]client.MatchInterface{"dst_addr": exact(mustBytes(conversion.IpToBinary("10.0.1.9")))},
		c.NewTableActionDirect(p4info.ActionSendToTM, sendToTM), nil)
	withMeta.Metadata = []byte("written by the interop test")
	if err := c.InsertTableEntry(ctx, withMeta); err != nil {
		t.Fatalf("InsertTableEntry with metadata: %s", explain(err))
	}
	if got, err := c.ReadTableEntry(ctx, p4info.TableTMAddressV4, []client.MatchInterface{exact(mustBytes(conversion.IpToBinary("10.0.1.9")))}); err != nil {
		t.Errorf("ReadTableEntry: %s", explain(err))
	} else if diff := cmp.Diff(canonical(withMeta), got, protocmp.Transform()); diff != "" {
		t.Errorf("entry with metadata (-written +read):\n%s", diff)
	}
	if err := c.DeleteTableEntry(ctx, withMeta); err != nil {
		t.Errorf("DeleteTableEntry: %s", explain(err))
	}
	// Spec 9.1.6: no idle timeout on a table that does not support it
	// (none here does): INVALID_ARGUMENT, not silently dropped.
	idle := c.NewTableEntry(p4info.TableL2Forward, map[string]client.MatchInterface{"dst_addr": exact(mustBytes(conversion.MacToBinary("02:00:00:00:00:99")))},
		c.NewTableActionDirect(p4info.ActionForward, [][]byte{u16(1)}), &client.TableEntryOptions{IdleTimeout: 10 * time.Second})
	if err := c.InsertTableEntry(ctx, idle); codeOf(err) != codes.InvalidArgument {
		t.Errorf("an entry with an idle timeout on a table without idle timeouts: %v, want INVALID_ARGUMENT", err)
		_ = c.DeleteTableEntry(ctx, idle)
	}
	// A const default action cannot be changed (spec 9.1.3: PERMISSION_DENIED).
	def := c.NewTableEntry(p4info.TablePortRole, nil, c.NewTableActionDirect(p4info.ActionSetPortRole, [][]byte{{1}}), nil)
	if err := c.ModifyTableEntry(ctx, def); codeOf(err) != codes.PermissionDenied {
		t.Errorf("modifying a const default action: %v, want PERMISSION_DENIED", explain(err))
	}

	// tm_members is an action profile, not a selector: no groups.
	group := c.NewActionProfileGroup(p4info.ActionProfileTMMembers, 1, []*p4v1.ActionProfileGroup_Member{{MemberId: 1, Weight: 1}}, 4)
	if err := c.InsertActionProfileGroup(ctx, group); err == nil && tg.lenientPI {
		t.Logf("this target takes an action-profile group on a profile without selector; deleting it")
		if err := c.DeleteActionProfileGroup(ctx, group); err != nil {
			t.Errorf("DeleteActionProfileGroup: %s", explain(err))
		}
	} else if err == nil {
		t.Error("InsertActionProfileGroup on an action profile without selector succeeded")
	} else {
		t.Logf("action-profile group refused: %s", explain(err))
	}

	// Counters: every cell readable; with a data plane to drive, the
	// packets sent are the packets counted.
	cells, err := c.ReadCounterEntryWildcard(ctx, p4info.CounterTMCounter)
	if err != nil {
		t.Fatalf("ReadCounterEntryWildcard: %s", explain(err))
	}
	if want := int(p4info.MustLoad().Counters[p4info.MustLoad().ID(p4info.CounterTMCounter)].GetSize()); len(cells) != want {
		t.Errorf("tm_counter wildcard read: %d cells, want %d", len(cells), want)
	}
	if tg.pipeline != nil {
		frame := vectors.Flow(layers.IPProtocolTCP, mustAddr("10.0.0.7"), 40000, mustAddr("10.0.1.1"), 80, []byte("hi"))
		const n = 5
		var res swmodel.Result
		for range n {
			tg.pipeline().Process(1, frame, &res)
		}
		if !slices.Equal(res.Ports, []uint16{2}) { // tm_address_v4's send_to_tm
			t.Errorf("a packet to the TM's address left on %v, want [2] (trace %+v)", res.Ports, res.Trace)
		}
		got, err := c.ReadCounterEntry(ctx, p4info.CounterTMCounter, 1)
		if err != nil {
			t.Fatalf("ReadCounterEntry: %s", explain(err))
		}
		if want := (&p4v1.CounterData{PacketCount: n, ByteCount: n * int64(len(frame))}); !proto.Equal(got, want) {
			t.Errorf("tm_counter[1] = %v, want %v", got, want)
		}
	}
	err = c.ModifyCounterEntry(ctx, p4info.CounterTMCounter, 2, &p4v1.CounterData{PacketCount: 9, ByteCount: 99})
	switch {
	case tg.writesCounters && err != nil:
		t.Errorf("ModifyCounterEntry: %s", explain(err))
	case tg.writesCounters:
		if got, err := c.ReadCounterEntry(ctx, p4info.CounterTMCounter, 2); err != nil || got.GetPacketCount() != 9 {
			t.Errorf("tm_counter[2] after writing 9 packets: %v, %v", got, err)
		}
	case codeOf(err) != codes.Unimplemented:
		t.Errorf("ModifyCounterEntry: %v, want UNIMPLEMENTED (the software switch does not write counters)", explain(err))
	}

	// A second client, lower election id: a backup. It learns the pipeline
	// from the switch (GetFwdPipe ALL) and reads by name; its writes are
	// refused.
	backup, _ := connect(t, tg, 5, false)
	if cfg, err := backup.GetFwdPipe(ctx, client.GetFwdPipeAll); err != nil || cfg.Cookie != cookie {
		t.Fatalf("backup GetFwdPipe: %+v, %v", cfg, err)
	}
	if got, err := backup.ReadTableEntryWildcard(ctx, p4info.TablePortRole); err != nil || len(got) != 2 {
		t.Errorf("backup read of port_role: %d entries, %v", len(got), err)
	}
	if err := backup.DeleteTableEntry(ctx, tables[p4info.TablePortRole][0]); codeOf(err) != codes.PermissionDenied {
		t.Errorf("backup delete: %v, want PERMISSION_DENIED", err)
	}

	// Packet-out with the library's SendPacketOut: the frame injected is
	// the packet_out header (egress_port 3 in 9 bits, 7 bits of padding)
	// and the payload. Packet-in reaches the primary's message channel.
	if tg.injected != nil {
		payload := []byte("hello from the controller")
		err := c.SendPacketOut(ctx, &p4v1.PacketOut{Payload: payload, Metadata: []*p4v1.PacketMetadata{{MetadataId: 1, Value: []byte{3}}}})
		if err != nil {
			t.Fatalf("SendPacketOut: %v", err)
		}
		select {
		case got := <-tg.injected:
			if want := append([]byte{0x01, 0x80}, payload...); !slices.Equal(got, want) {
				t.Errorf("injected %x, want %x", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Error("the packet-out was not injected")
		}
		if !tg.packetIn([]byte("to the controller")) {
			t.Fatal("SendPacketIn found no primary")
		}
		select {
		case m := <-messages:
			if got := m.GetPacket().GetPayload(); string(got) != "to the controller" {
				t.Errorf("packet-in: %v", m)
			}
		case <-time.After(5 * time.Second):
			t.Error("no packet-in on the library's message channel")
		}
	}

	// A member still in use cannot go (spec: FAILED_PRECONDITION).
	if err := c.DeleteActionProfileMember(ctx, member); codeOf(err) != codes.FailedPrecondition {
		if tg.lenientPI && err != nil {
			t.Logf("deleting a member that entries still use: refused with %v (not the spec's FAILED_PRECONDITION)", codeOf(err))
		} else {
			t.Errorf("deleting a member that entries still use: %v, want FAILED_PRECONDITION", err)
		}
	}
	// Delete everything; the reads come back empty.
	for _, name := range names {
		for _, e := range tables[name] {
			if err := c.DeleteTableEntry(ctx, e); err != nil {
				t.Errorf("DeleteTableEntry %s: %s", name, explain(err))
			}
		}
	}
	if err := c.DeleteActionProfileMember(ctx, member); err != nil {
		t.Errorf("DeleteActionProfileMember: %s", explain(err))
	}
	if err := c.DeleteMulticastGroup(ctx, 1); err != nil {
		t.Errorf("DeleteMulticastGroup: %s", explain(err))
	}
	for _, name := range names {
		if got, err := c.ReadTableEntryWildcard(ctx, name); err != nil || len(got) != 0 {
			t.Errorf("%s after delete: %d entries, %v", name, len(got), err)
		}
	}
}
