// SPDX-License-Identifier: Apache-2.0

package p4rtserver_test

import (
	"context"
	"testing"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
	"github.com/symdist/symdist/p4rtserver"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FuzzWrite feeds arbitrary bytes, as a WriteRequest, to the server's
// Write (called directly) over a small state written by the primary. With
// auth set, the request is made the primary's. Beyond not panicking: the
// outcome is OK, a call-wide error (never for an authorised request in
// CONTINUE_ON_ERROR within the batch limit), or UNKNOWN with one
// p4.v1.Error per update; and the state stays readable.
func FuzzWrite(f *testing.F) {
	h := newHarness(f)
	h.primary(1)
	h.commit(1)
	b := entries.Builder{IDs: h.ids}
	tm := vectors.TMs[0]
	base := entries.Inserts(
		b.PortRole(1, 1),
		b.GroupClassifier(vectors.Classifiers[2]),
		b.Member(100, tm),
		b.Bucket(1, 0, 100),
		b.DefaultTM(1, tm),
		b.TMAddress(vectors.TMAddrV4, tm),
		b.L2Forward(vectors.ServerMAC, 2),
		entries.MulticastGroup(1, []uint16{1, 2}),
	)
	seed := func(auth bool, us ...*p4v1.Update) {
		data, err := proto.Marshal(&p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: us})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, auth)
	}
	for _, c := range badUpdates(h.ids) {
		if c.update != nil {
			seed(true, c.update)
		}
	}
	seed(true, vectors.State(h.ids)[:50]...)
	var deletes []*p4v1.Update
	for i := len(base) - 1; i >= 0; i-- {
		deletes = append(deletes, entries.Update(p4v1.Update_DELETE, base[i].GetEntity()))
	}
	seed(true, deletes...)
	seed(false, base...)
	f.Add([]byte{}, true)

	p := h.srv.Pipeline()
	f.Fuzz(func(t *testing.T, data []byte, auth bool) {
		req := &p4v1.WriteRequest{}
		if err := proto.Unmarshal(data, req); err != nil {
			return
		}
		if auth {
			req.DeviceId, req.ElectionId, req.Role = deviceID, eid(1), ""
		}
		p.Reset()
		if err := p.WriteAll(base); err != nil {
			t.Fatal(err)
		}
		_, err := h.srv.Write(context.Background(), req)
		switch st := status.Convert(err); st.Code() {
		case codes.OK:
		case codes.Unknown:
			details := st.Details()
			if len(details) != len(req.GetUpdates()) {
				t.Fatalf("%d error details for %d updates", len(details), len(req.GetUpdates()))
			}
			failed := 0
			for i, d := range details {
				pe, ok := d.(*p4v1.Error)
				if !ok {
					t.Fatalf("detail %d is %T", i, d)
				}
				if pe.GetCanonicalCode() != 0 {
					failed++
				}
			}
			if failed == 0 {
				t.Fatal("UNKNOWN with every update OK")
			}
		default:
			if auth && req.GetAtomicity() == p4v1.WriteRequest_CONTINUE_ON_ERROR && len(req.GetUpdates()) <= p4rtserver.MaxUpdatesPerWrite {
				t.Fatalf("an authorised write failed as a whole: %v", err)
			}
		}
		for _, e := range wildcards() {
			if err := p.Read(e, func(*p4v1.Entity) error { return nil }); err != nil {
				t.Fatalf("reading the state back: %v", err)
			}
		}
	})
}
