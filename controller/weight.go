// SPDX-License-Identifier: Apache-2.0

package controller

import (
	"errors"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// SetWeight changes a TM's weight at run time. It is an apply of one
// field: the running config with that TM's weight changed goes through
// the same reload as `config apply` (buckets move only to or from the TM,
// with the handover), is saved over the config file and reaches the other
// controller of the pair (pair.go). A controller that runs without a
// config file changes the weight in memory only, until it restarts.
func (c *Controller) SetWeight(name string, weight int) error {
	if weight < 1 || weight > 1000 {
		return fmt.Errorf("weight %d: want 1-1000", weight)
	}
	c.reloadMu.Lock()
	c.mu.Lock()
	c.loadOwnLocked()
	tm := c.cfg.TM(name)
	raw, file := c.pair.raw, c.pair.rawName
	if tm == nil {
		c.mu.Unlock()
		c.reloadMu.Unlock()
		return fmt.Errorf("no TM %q", name)
	}
	if tm.Weight == weight {
		c.mu.Unlock()
		c.reloadMu.Unlock()
		return nil
	}
	if raw == nil {
		defer c.reloadMu.Unlock()
		defer c.mu.Unlock()
		c.log.Info("TM weight changed (no config file: not kept across a restart)", "tm", name, "from", tm.Weight, "to", weight)
		tm.Weight = weight
		c.reassignLocked(tm.Group)
		return nil
	}
	from := tm.Weight
	c.mu.Unlock()
	data, err := setTMWeight(raw, name, weight)
	if err != nil {
		c.reloadMu.Unlock()
		return err
	}
	p, err := c.reload(file, data, true, true)
	if err == nil {
		c.noteApplied(file, data)
		c.log.Info("TM weight changed", "tm", name, "from", from, "to", weight, "saved", p.Saved, "save_error", p.SaveError)
	}
	c.reloadMu.Unlock()
	if err != nil {
		return err
	}
	c.notePeers(p)
	if p.SaveError != "" {
		return fmt.Errorf("weight applied but NOT saved (a restart runs the old one): %s", p.SaveError)
	}
	return nil
}

// setTMWeight returns the config data with TM name's weight set.
func setTMWeight(data []byte, name string, weight int) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the running config is not a YAML mapping")
	}
	tms := value(root.Content[0], "tms")
	if tms == nil || tms.Kind != yaml.SequenceNode {
		return nil, errors.New("the running config has no tms list")
	}
	for _, tm := range tms.Content {
		if tm.Kind != yaml.MappingNode {
			continue
		}
		if n := value(tm, "name"); n == nil || n.Value != name {
			continue
		}
		setKey(tm, "weight", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(weight)})
		return yaml.Marshal(&root)
	}
	return nil, fmt.Errorf("the running config has no TM %q", name)
}

// value is the value of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
