// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/symdist/symdist/p4rt"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	"github.com/symdist/symdist/config"
	"google.golang.org/grpc"
)

// testCA writes PEM files for a fresh CA ("name.pem", "name-key.pem")
// into a temporary directory: the CA itself and the certificates named,
// each for a server and client alike, with the name as its DNS name.
func testCA(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA " + t.Name()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for i, name := range names {
		key := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	return dir
}

// symdist switch over TLS and mutual TLS, reached with the controller's
// own dial options from its `tls` config: the right client gets in,
// the others fail the handshake.
func TestSwitchTLS(t *testing.T) {
	dir := testCA(t, "switch", "controller")
	other := testCA(t, "controller") // a CA the switch does not trust
	at := func(d, name string) string { return filepath.Join(d, name) }
	tlsOnly := switchOptions{tlsCert: at(dir, "switch.pem"), tlsKey: at(dir, "switch-key.pem")}
	mutual := tlsOnly
	mutual.tlsClientCA = at(dir, "ca.pem")
	for _, tc := range []struct {
		name   string
		server switchOptions
		client *config.TLS // nil: plaintext
		ok     bool
	}{
		{"TLS", tlsOnly, &config.TLS{CA: at(dir, "ca.pem"), ServerName: "switch"}, true},
		{"TLS, plaintext client", tlsOnly, nil, false},
		{"TLS, client without the CA", tlsOnly, &config.TLS{CA: at(other, "ca.pem"), ServerName: "switch"}, false},
		{"mutual TLS", mutual, &config.TLS{CA: at(dir, "ca.pem"), Cert: at(dir, "controller.pem"), Key: at(dir, "controller-key.pem"), ServerName: "switch"}, true},
		{"mutual TLS, no client certificate", mutual, &config.TLS{CA: at(dir, "ca.pem"), ServerName: "switch"}, false},
		{"mutual TLS, client certificate of another CA", mutual,
			&config.TLS{CA: at(dir, "ca.pem"), Cert: at(other, "controller.pem"), Key: at(other, "controller-key.pem"), ServerName: "switch"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _, _ := startSwitch(t, tc.server)
			opts, err := p4rt.DialOptions(tc.client)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := grpc.NewClient(addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = p4v1.NewP4RuntimeClient(conn).Capabilities(ctx, &p4v1.CapabilitiesRequest{})
			if (err == nil) != tc.ok {
				t.Errorf("Capabilities: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Bad TLS flags: a clear error, and the switch does not start.
func TestSwitchTLSFlags(t *testing.T) {
	dir := testCA(t, "switch")
	at := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"certificate without key", []string{"--tls-cert", at("switch.pem")}, "certificate and its key"},
		{"key without certificate", []string{"--tls-key", at("switch-key.pem")}, "certificate and its key"},
		{"client CA alone", []string{"--tls-client-ca", at("ca.pem")}, "--tls-client-ca needs --tls-cert"},
		{"missing certificate file", []string{"--tls-cert", at("nope.pem"), "--tls-key", at("switch-key.pem")}, "nope.pem"},
		{"key of another certificate", []string{"--tls-cert", at("switch.pem"), "--tls-key", at("ca.pem")}, "TLS certificate"},
		{"client CA without a certificate in it", []string{"--tls-cert", at("switch.pem"), "--tls-key", at("switch-key.pem"),
			"--tls-client-ca", at("switch-key.pem")}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCmd(t, append([]string{"switch", "--grpc", "127.0.0.1:0"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("symdist switch %v: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}
