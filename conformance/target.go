package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/symdist/symdist/p4rt"

	"github.com/symdist/symdist/internal/p4tools"

	"github.com/symdist/symdist/p4info"
	"github.com/symdist/symdist/swswitch"
	"github.com/symdist/symdist/vectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Target is a running switch under test.
type Target struct {
	Name     string
	Addr     string // P4Runtime
	DeviceID uint64
	// DeviceConfig is the pipeline Program pushes: p4info.BMv2JSON() when
	// nil (the software switch takes that and ignores it).
	DeviceConfig []byte
	stop         func()
}

// Stop ends the switch.
func (t *Target) Stop() { t.stop() }

// freeAddr returns a loopback address with a free TCP port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// BMv2Missing says why bmv2 cannot run here, or "".
func BMv2Missing() string {
	return p4tools.Missing(p4tools.BMv2, "bmv2")
}

// StartBMv2 starts simple_switch_grpc on the switch sides of pairs, with
// no program; logs go to logDir.
func StartBMv2(pairs []VethPair, logDir string) (*Target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	thrift, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, thriftPort, _ := net.SplitHostPort(thrift)
	args := []string{"--device-id", "1", "--no-p4", "--thrift-port", thriftPort, "--log-level", "error"}
	for _, p := range pairs {
		args = append(args, "-i", strconv.Itoa(int(p.Port))+"@"+p.SwitchSide)
	}
	args = append(args, "--", "--grpc-server-addr", addr, "--cpu-port", "255")
	cmd := exec.Command(p4tools.MustFind(p4tools.BMv2), args...)
	logf, err := os.Create(filepath.Join(logDir, "simple_switch_grpc.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	t := &Target{Name: "bmv2", Addr: addr, DeviceID: 1, stop: func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	}}
	// Wait for its gRPC port.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return t, nil
		}
		if time.Now().After(deadline) {
			t.Stop()
			return nil, fmt.Errorf("simple_switch_grpc did not listen on %s (log: %s)", addr, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartSoftSwitch runs the software switch in this process on the switch
// sides of pairs (AF_PACKET), serving P4Runtime on loopback.
func StartSoftSwitch(pairs []VethPair) (*Target, error) {
	ports := map[uint16]swswitch.Port{}
	for _, p := range pairs {
		port, err := swswitch.OpenInterface(p.SwitchSide)
		if err != nil {
			for _, q := range ports {
				q.Close()
			}
			return nil, err
		}
		ports[p.Port] = port
	}
	sw, err := swswitch.Listen(swswitch.Config{DeviceID: 1, Ports: ports})
	if err != nil {
		return nil, err
	}
	return &Target{Name: "software switch", Addr: sw.Addr(), DeviceID: 1, stop: sw.Stop}, nil
}

// Program pushes the pipeline and writes the fixture state, as the
// controller would.
func Program(ctx context.Context, t *Target) error {
	conn, err := grpc.NewClient(t.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	sess, err := p4rt.Open(ctx, conn, t.DeviceID, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fmt.Errorf("%s: arbitration: %w", t.Name, err)
	}
	defer sess.Close()
	schema, err := p4info.Load()
	if err != nil {
		return err
	}
	ids, err := schema.Resolve()
	if err != nil {
		return err
	}
	devConfig := t.DeviceConfig
	if devConfig == nil {
		devConfig = p4info.BMv2JSON()
	}
	if err := sess.SetPipeline(ctx, schema.Info, devConfig, p4info.Cookie()); err != nil {
		return fmt.Errorf("%s: pipeline: %w", t.Name, err)
	}
	// Members first (the entries point at them), as the fixture orders them.
	if err := sess.Write(ctx, vectors.State(ids)); err != nil {
		return fmt.Errorf("%s: state: %w", t.Name, err)
	}
	return nil
}
