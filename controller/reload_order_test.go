// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A SIGHUP reload that has read the file when an apply arrives finishes
// first; the apply then runs and saves its config. The controller ends
// running what its file holds, the newer config, never the older file
// applied over the newer config (issue 21: Reload read the file outside
// the controller's lock).
func TestReloadAndApplyAreSerialized(t *testing.T) {
	c := plannedController(t, twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:2"))
	older := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:3")
	newer := twoGroups("tm1:web:1", "tm2:web:1", "tm3:web:5")
	path := filepath.Join(t.TempDir(), "symdist.yaml")
	if err := os.WriteFile(path, []byte(older), 0o600); err != nil {
		t.Fatal(err)
	}
	c.SetConfigFile(path)

	applied := make(chan error, 1)
	read := readConfigFile
	t.Cleanup(func() { readConfigFile = read })
	readConfigFile = func(name string) ([]byte, error) {
		data, err := read(name)
		// The apply arrives between the reload's read and its apply.
		go func() {
			_, err := c.ApplyConfig("newer.yaml", []byte(newer))
			applied <- err
		}()
		select {
		case err := <-applied: // it did not wait for the reload
			applied <- err
		case <-time.After(300 * time.Millisecond): // it waits: the reload goes on
		}
		return data, err
	}
	if _, err := c.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if err := <-applied; err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}

	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newer, string(file)); diff != "" {
		t.Errorf("the file holds (-newer +file):\n%s", diff)
	}
	weights := map[string]int{}
	for _, tm := range c.current().TMs {
		weights[tm.Name] = tm.Weight
	}
	if diff := cmp.Diff(map[string]int{"tm1": 1, "tm2": 1, "tm3": 5}, weights); diff != "" {
		t.Errorf("running weights (-newer +running):\n%s", diff)
	}
}
