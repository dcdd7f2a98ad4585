package p4rtserver_test

import (
	"testing"
	"time"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/entries"
)

func TestTmpDirect(t *testing.T) {
	h := newHarness(t)
	h.primary(1)
	h.commit(1)
	batch := make([]*p4v1.Update, 60000)
	for i := range batch {
		batch[i] = entries.Update(p4v1.Update_DELETE, entries.Builder{IDs: h.ids}.PortRole(uint16(i%512), 1))
	}
	start := time.Now()
	errs := h.srv.Pipeline().Write(batch)
	t.Logf("pipeline: %v", time.Since(start))
	start = time.Now()
	_, err := h.srv.Write(ctx(t), &p4v1.WriteRequest{DeviceId: deviceID, ElectionId: eid(1), Updates: batch})
	t.Logf("server: %v %d", time.Since(start), len(errs))
	_ = err
}
