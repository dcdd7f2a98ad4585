// Package limitlog logs refusals at most once per peer per interval.
//
// A peer that makes us refuse something thousands of times a second must not
// turn each refusal into a log line: that is a flood of its own. Every event
// is still counted (by the caller's metric); the log says how many were
// folded into the next line.
package limitlog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MaxKeys bounds the peers remembered at once; past it the oldest interval
// is forgotten, so at worst a peer gets one extra line.
const MaxKeys = 4096

// Limiter is safe for concurrent use. The zero value is not usable: use New.
type Limiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	last       time.Time
	suppressed int
}

// New returns a Limiter that lets one line per key through per interval.
func New(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, now: time.Now, keys: make(map[string]*state)}
}

// Allow reports whether an event for key may be logged now, and how many
// events for key were held back since its last line.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys[key]
	if s == nil {
		if len(l.keys) >= MaxKeys {
			l.forget(now)
		}
		l.keys[key] = &state{last: now}
		return true, 0
	}
	if now.Sub(s.last) < l.interval {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return true, n
}

// forget drops the keys whose interval is over, or all of them if none is.
func (l *Limiter) forget(now time.Time) {
	for k, s := range l.keys {
		if now.Sub(s.last) >= l.interval {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= MaxKeys {
		clear(l.keys)
	}
}

// Log logs msg at level for key unless a line for key went out within the
// interval; the line carries "suppressed"=N when N events were held back.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	ok, n := l.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Log(context.Background(), level, msg, args...)
}
