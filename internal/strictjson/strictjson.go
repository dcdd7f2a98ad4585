// Package strictjson decodes JSON bodies and files strictly: exactly one
// value, no unknown fields, no duplicate keys, and a size bound applied
// before anything is decoded.
//
// encoding/json alone accepts `{"weight":2}{"weight":900}` (it stops after
// the first value), `{"a":1,"a":2}` (the last key wins) and fields the type
// does not have; each is a way for a peer or a typo to say something we do
// not hear.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned (wrapped) when the input exceeds the bound.
var ErrTooLarge = errors.New("too large")

// Decode reads at most max bytes from r and decodes them into v strictly.
func Decode(r io.Reader, v any, max int64) error {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > max {
		return fmt.Errorf("body over %d bytes: %w", max, ErrTooLarge)
	}
	return Unmarshal(data, v)
}

// Unmarshal decodes data into v strictly.
func Unmarshal(data []byte, v any) error {
	if err := checkDuplicates(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value at byte %d", dec.InputOffset())
	}
	return nil
}

// checkDuplicates walks the tokens and refuses an object with a key twice.
func checkDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q at byte %d", key, dec.InputOffset())
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}
