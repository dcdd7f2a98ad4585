// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
)

// countProxy passes every P4Runtime call between the controller and bmv2
// through unchanged (frames are not decoded, except Write's to count its
// updates), so that the bench can say how far a long programming has got
// and can sample bmv2's memory right after the pipeline push: the
// controller reports neither before its sync ends, and bmv2 cannot be read
// without slowing it.
type countProxy struct {
	conn    *grpc.ClientConn
	server  *grpc.Server
	written atomic.Int64 // updates in Writes the switch has answered
	// onPipeline runs when SetForwardingPipelineConfig has succeeded.
	onPipeline func()
}

const (
	writeMethod    = "/p4.v1.P4Runtime/Write"
	pipelineMethod = "/p4.v1.P4Runtime/SetForwardingPipelineConfig"
)

// startCountProxy listens on a free loopback port and forwards to target.
func startCountProxy(target string, onPipeline func()) (*countProxy, string, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	p := &countProxy{conn: conn, onPipeline: onPipeline}
	p.server = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.forward),
		grpc.MaxRecvMsgSize(64<<20))
	go p.server.Serve(ln)
	return p, ln.Addr().String(), nil
}

func (p *countProxy) stop() {
	p.server.Stop()
	p.conn.Close()
}

// forward runs one call of any kind (unary or stream) against the switch.
func (p *countProxy) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	md, _ := metadata.FromIncomingContext(in.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), md.Copy()))
	defer cancel()
	out, err := p.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		return err
	}
	var updates atomic.Int64 // of the Write in flight
	go func() {
		for {
			f := &frame{}
			if err := in.RecvMsg(f); err != nil {
				if errors.Is(err, io.EOF) {
					_ = out.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if method == writeMethod {
				updates.Store(int64(countUpdates(f.b)))
			}
			if err := out.SendMsg(f); err != nil {
				return // out.RecvMsg below reports the switch's error
			}
		}
	}()
	headerSent := false
	for {
		f := &frame{}
		err := out.RecvMsg(f)
		if !headerSent {
			if h, herr := out.Header(); herr == nil && len(h) > 0 {
				_ = in.SendHeader(h)
			}
			headerSent = true
		}
		if err != nil {
			in.SetTrailer(out.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err // the switch's status, details included
		}
		switch method {
		case writeMethod:
			p.written.Add(updates.Load())
		case pipelineMethod:
			if p.onPipeline != nil {
				p.onPipeline()
			}
		}
		if err := in.SendMsg(f); err != nil {
			return err
		}
	}
}

// countUpdates counts the updates (field 4) of an encoded WriteRequest
// without decoding them; -1 if the bytes are not a valid message.
func countUpdates(b []byte) int {
	const updatesField = 4
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return -1
		}
		b = b[l:]
		if num == updatesField && typ == protowire.BytesType {
			n++
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return -1
		}
		b = b[l:]
	}
	return n
}

// frame is one gRPC message, passed on as bytes.
type frame struct{ b []byte }

// rawCodec moves frames without decoding them; its name keeps the content
// type bmv2 expects (application/grpc+proto).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(*frame).b, nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	v.(*frame).b = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
