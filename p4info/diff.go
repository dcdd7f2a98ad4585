// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"fmt"
	"strings"

	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Diff lists how the P4Info got differs from want, entity by entity and
// matched by name (so a program that renumbered its IDs says so): missing
// and extra tables, actions, counters and so on, and for each entity in
// both the fields that differ ("table X: id, size"). It is empty when the
// two are equal.
func Diff(want, got *p4configv1.P4Info) []string {
	if proto.Equal(want, got) {
		return nil
	}
	var out []string
	if w, g := want.GetPkgInfo().GetArch(), got.GetPkgInfo().GetArch(); w != g {
		out = append(out, fmt.Sprintf("architecture %q, not %q", g, w))
	}
	wm, gm := want.ProtoReflect(), got.ProtoReflect()
	fields := wm.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() && fd.Message() != nil {
			out = append(out, diffEntities(fd.Name(), wm.Get(fd).List(), gm.Get(fd).List())...)
		}
	}
	if len(out) == 0 {
		out = append(out, "it differs outside its entities (package info or type info)")
	}
	return out
}

// preambleName is the name in an entity's preamble, or "".
func preambleName(m protoreflect.Message) string {
	fd := m.Descriptor().Fields().ByName("preamble")
	if fd == nil || fd.Message() == nil {
		return ""
	}
	return m.Get(fd).Message().Interface().(*p4configv1.Preamble).GetName()
}

func diffEntities(field protoreflect.Name, want, got protoreflect.List) []string {
	kind := strings.ReplaceAll(strings.TrimSuffix(string(field), "s"), "_", " ")
	byName := func(l protoreflect.List) (map[string]protoreflect.Message, []string) {
		m := map[string]protoreflect.Message{}
		var order []string
		for i := range l.Len() {
			name := preambleName(l.Get(i).Message())
			m[name] = l.Get(i).Message()
			order = append(order, name)
		}
		return m, order
	}
	wantBy, wantOrder := byName(want)
	gotBy, gotOrder := byName(got)
	var out []string
	for _, name := range wantOrder {
		g, ok := gotBy[name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s is missing", kind, name))
		case !proto.Equal(wantBy[name].Interface(), g.Interface()):
			out = append(out, fmt.Sprintf("%s %s differs in %s", kind, name, strings.Join(differingFields(wantBy[name], g), ", ")))
		}
	}
	for _, name := range gotOrder {
		if _, ok := wantBy[name]; !ok {
			out = append(out, fmt.Sprintf("%s %s is not symdist's", kind, name))
		}
	}
	return out
}

// differingFields names the fields of a and b (same type) that differ;
// for the preamble, its own fields (id, alias, annotations).
func differingFields(a, b protoreflect.Message) []string {
	var out []string
	fields := a.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		x, y := a.New(), b.New()
		if a.Has(fd) {
			x.Set(fd, a.Get(fd))
		}
		if b.Has(fd) {
			y.Set(fd, b.Get(fd))
		}
		if proto.Equal(x.Interface(), y.Interface()) {
			continue
		}
		if fd.Name() == "preamble" {
			for _, f := range differingFields(a.Get(fd).Message(), b.Get(fd).Message()) {
				out = append(out, "preamble "+f)
			}
			continue
		}
		out = append(out, string(fd.Name()))
	}
	return out
}
