package strictjson

import (
	"errors"
	"strings"
	"testing"
)

type body struct {
	Weight int            `json:"weight"`
	Nested map[string]int `json:"nested"`
	List   []struct {
		A int `json:"a"`
	} `json:"list"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{in: `{"weight":2}`},
		{in: ` {"weight":2} ` + "\n"},
		{in: `{"nested":{"x":1,"y":2},"list":[{"a":1},{"a":2}]}`},
		{in: `{"weight":2}{"weight":900}`, wantErr: "data after the JSON value"},
		{in: `{"weight":1}garbage`, wantErr: "data after"},
		{in: `{"weight":2,"weight":900}`, wantErr: `duplicate key "weight"`},
		{in: `{"nested":{"x":1,"x":2}}`, wantErr: `duplicate key "x"`},
		{in: `{"list":[{"a":1,"a":2}]}`, wantErr: `duplicate key "a"`},
		{in: `{"wieght":2}`, wantErr: "unknown field"},
		{in: ``, wantErr: "EOF"},
		{in: `{"weight":`, wantErr: "EOF"},
	} {
		var b body
		err := Decode(strings.NewReader(tc.in), &b, 1<<10)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestTooLarge(t *testing.T) {
	var b body
	err := Decode(strings.NewReader(`{"weight":`+strings.Repeat(" ", 2000)+`1}`), &b, 1<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"weight":2,"nested":{"a":1},"list":[{"a":1}]}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b body
		_ = Unmarshal(data, &b)
	})
}
