package p4rtserver

import (
	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A ReadResponse carries at most readBatch entities and about
// readBatchBytes, well under a gRPC client's default 4 MiB limit.
const (
	readBatch      = 1000
	readBatchBytes = 1 << 20
)

// Read streams the entities matching each entity of the request (spec
// §13): wildcards as swmodel.Pipeline.Read describes them. Each request
// entity is read under the pipeline's lock into memory and then sent, so a
// slow reader never holds up writes or packets. The first failing request
// entity ends the read with the model's status, as it is.
func (s *Server) Read(req *p4v1.ReadRequest, stream p4v1.P4Runtime_ReadServer) error {
	if err := s.checkTarget(req.GetDeviceId(), req.GetRole()); err != nil {
		return err
	}
	p := s.pipe.Load()
	if p == nil {
		return status.Error(codes.FailedPrecondition, "no forwarding pipeline config has been set")
	}
	ctx := stream.Context()
	resp := &p4v1.ReadResponse{}
	size := 0
	flush := func() error {
		if len(resp.Entities) == 0 {
			return nil
		}
		err := stream.Send(resp)
		resp, size = &p4v1.ReadResponse{}, 0
		return err
	}
	for i, e := range req.GetEntities() {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if e.GetEntity() == nil {
			return status.Errorf(codes.InvalidArgument, "entity %d has no type", i)
		}
		var got []*p4v1.Entity
		if err := p.Read(e, func(x *p4v1.Entity) error {
			got = append(got, x)
			return nil
		}); err != nil {
			return err
		}
		for _, x := range got {
			n := proto.Size(x)
			if len(resp.Entities) == readBatch || size+n > readBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
			resp.Entities = append(resp.Entities, x)
			size += n
		}
	}
	return flush()
}
