// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/symdist/symdist/test/testbed"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"github.com/symdist/symdist/p4rtserver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// pki is a test CA with a server and a client certificate, as PEM files.
type pki struct {
	dir            string
	ca             *x509.Certificate
	caKey          *ecdsa.PrivateKey
	pool           *x509.CertPool
	server, client tls.Certificate
}

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir(), pool: x509.NewCertPool()}
	var err error
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "symdist test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.pool.AddCert(p.ca)
	p.write(t, "ca.pem", "CERTIFICATE", der)
	p.server = p.issue(t, "switch", x509.ExtKeyUsageServerAuth, 2)
	p.client = p.issue(t, "controller", x509.ExtKeyUsageClientAuth, 3)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) {
	if err := os.WriteFile(filepath.Join(p.dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage, serial int64) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	p.write(t, name+".pem", "CERTIFICATE", der)
	p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// A switch that requires mutual TLS: the controller programs it with the
// config's certificates, and a client without one is refused.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	srv := p4rtserver.New(p4rtserver.Config{DeviceID: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	gs := grpc.NewServer(append(srv.ServerOptions(), grpc.Creds(creds))...)
	srv.Register(gs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	defer gs.Stop()

	cfgText := `
admin: {listen: "127.0.0.1:0"}
switches:
  - name: sw
    address: ` + ln.Addr().String() + `
    device_id: 1
    tls: {ca: ` + filepath.Join(p.dir, "ca.pem") + `, cert: ` + filepath.Join(p.dir, "controller.pem") + `, key: ` + filepath.Join(p.dir, "controller-key.pem") + `, server_name: switch}
    ports: [{port: 1, role: edge}, {port: 2, role: tm}]
groups:
  - {name: g, id: 1, default_tm: a, rules: [{priority: 1, ip_version: 4}]}
tms:
  - {name: a, id: 1, group: g, ports: {sw: {port: 2, mac: "02:00:00:00:00:01"}}}
`
	cfg, err := config.Parse("tls.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runController(t, cfg)
	defer stop()
	testbed.Eventually(t, "programming over mutual TLS", 10*time.Second, func() bool { return inSync(c) })

	// Without a client certificate the switch refuses.
	noCert := *cfg.Switches[0].TLS
	noCert.Cert, noCert.Key = "", ""
	opts, err := p4rt.DialOptions(&noCert)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(ln.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = p4v1.NewP4RuntimeClient(conn).Capabilities(ctx, &p4v1.CapabilitiesRequest{})
	if err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
}
