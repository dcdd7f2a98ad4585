package limitlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOneLinePerKeyPerInterval(t *testing.T) {
	l := New(time.Second)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	for range 1000 {
		l.Log(log, slog.LevelWarn, "peer-a", "refused")
	}
	l.Log(log, slog.LevelWarn, "peer-b", "refused")
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines in one interval for two peers, want 2:\n%s", got, buf.String())
	}
	now = now.Add(time.Second)
	buf.Reset()
	l.Log(log, slog.LevelWarn, "peer-a", "refused")
	if !strings.Contains(buf.String(), "suppressed=999") {
		t.Errorf("line after the interval does not say 999 were held back: %s", buf.String())
	}
}

func TestKeysBounded(t *testing.T) {
	l := New(time.Hour)
	for i := range 3 * MaxKeys {
		l.Allow(strings.Repeat("k", i%50) + string(rune(i)))
	}
	if len(l.keys) > MaxKeys {
		t.Fatalf("%d keys remembered, want at most %d", len(l.keys), MaxKeys)
	}
}
