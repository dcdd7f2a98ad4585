// SPDX-License-Identifier: Apache-2.0

package connlimit

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// echo accepts from l and echoes each connection until it closes.
func echo(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// alive reports whether c echoes a byte back within a second.
func alive(t *testing.T, c net.Conn) bool {
	t.Helper()
	if c == nil {
		return false // refused before the dial returned
	}
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (want an echo, EOF or a reset)", err)
	}
	return err == nil
}

func TestRefusesPastMax(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	refused := 0
	l := New(ln, Config{Max: 2, Name: "test", Log: slog.New(slog.NewTextHandler(&logBuf, nil)), Refused: func() { refused++ }})
	defer l.Close()
	go echo(l)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil // the reset can come before connect returns
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := dial(), dial()
	for _, tc := range []struct {
		name string
		c    net.Conn
		want bool
	}{
		{"first", a, true},
		{"second", b, true},
		{"third, past the bound", dial(), false},
		{"fourth, past the bound", dial(), false},
	} {
		if got := alive(t, tc.c); got != tc.want {
			t.Errorf("%s connection served: %v, want %v", tc.name, got, tc.want)
		}
	}
	if refused != 2 || l.Refused() != 2 {
		t.Errorf("refused counted %d (callback), %d (Refused), want 2", refused, l.Refused())
	}
	if n := strings.Count(logBuf.String(), "too many open connections"); n != 1 {
		t.Errorf("%d log lines for two refusals of one peer, want 1:\n%s", n, logBuf.String())
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(t, dial()) {
		t.Errorf("a connection after one closed was refused (open: %d)", l.Open())
	}
}

func TestRefusesPastMaxPerPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, Config{Max: 10, MaxPerPeer: 2})
	defer l.Close()
	go echo(l)
	dialFrom := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a1, a2 := dialFrom("127.0.0.1"), dialFrom("127.0.0.1")
	for _, tc := range []struct {
		name string
		c    net.Conn
		want bool
	}{
		{"first of 127.0.0.1", a1, true},
		{"second of 127.0.0.1", a2, true},
		{"third of 127.0.0.1", dialFrom("127.0.0.1"), false},
		{"first of 127.0.0.2", dialFrom("127.0.0.2"), true},
	} {
		if got := alive(t, tc.c); got != tc.want {
			t.Errorf("%s served: %v, want %v", tc.name, got, tc.want)
		}
	}
	a1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(t, dialFrom("127.0.0.1")) {
		t.Errorf("127.0.0.1 refused after one of its connections closed")
	}
}
