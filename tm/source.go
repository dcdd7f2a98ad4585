package tm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/symdist/symdist/controller"
)

// BucketSource gives the bucket table of the TM's group, owner TM name per
// bucket.
type BucketSource interface {
	Fetch(ctx context.Context) (controller.BucketTable, error)
	// String names the source in logs and /stats.
	String() string
}

// ControllerSource reads the table from the controller's admin API: it
// finds the group of TM in GET /api/status, then reads
// GET /api/groups/{group}/buckets.
type ControllerSource struct {
	URL   string // e.g. http://10.0.9.1:9090
	Token string // bearer token; empty: none
	TM    string
	// Client is the HTTP client; nil: one with a 5 s timeout.
	Client *http.Client
}

func (s *ControllerSource) String() string { return "controller " + s.URL }

// Fetch returns the bucket table of the TM's group.
func (s *ControllerSource) Fetch(ctx context.Context) (controller.BucketTable, error) {
	var st controller.Status
	if err := s.get(ctx, "/api/status", &st); err != nil {
		return controller.BucketTable{}, err
	}
	group := ""
	for _, g := range st.Groups {
		for _, t := range g.TMs {
			if t.Name == s.TM {
				group = g.Name
			}
		}
	}
	if group == "" {
		return controller.BucketTable{}, fmt.Errorf("the controller at %s has no TM %q", s.URL, s.TM)
	}
	var bt controller.BucketTable
	if err := s.get(ctx, "/api/groups/"+url.PathEscape(group)+"/buckets", &bt); err != nil {
		return controller.BucketTable{}, err
	}
	if bt.Group == "" {
		bt.Group = group
	}
	return bt, nil
}

func (s *ControllerSource) get(ctx context.Context, path string, v any) error {
	u := strings.TrimRight(s.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &transientError{err} // the controller may not be up yet
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		err := fmt.Errorf("GET %s: %s", u, resp.Status)
		if e.Error != "" {
			err = fmt.Errorf("GET %s: %s: %s", u, resp.Status, e.Error)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			return &transientError{err}
		}
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// FileSource reads a JSON controller.BucketTable from a file, again at each
// refresh (so replacing the file changes the table).
type FileSource struct {
	Path string
}

func (s *FileSource) String() string { return "file " + s.Path }

// Fetch reads the file.
func (s *FileSource) Fetch(context.Context) (controller.BucketTable, error) {
	var bt controller.BucketTable
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return bt, err
	}
	if err := json.Unmarshal(b, &bt); err != nil {
		return bt, fmt.Errorf("%s: %w", s.Path, err)
	}
	if len(bt.Buckets) == 0 {
		return bt, fmt.Errorf("%s: no buckets", s.Path)
	}
	return bt, nil
}

// transientError is a fetch that may work if tried again: the controller
// is not reachable yet, or has no bucket table yet (HTTP 503).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }
