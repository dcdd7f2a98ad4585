// SPDX-License-Identifier: Apache-2.0

package p4info

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	p4configv1 "github.com/p4lang/p4runtime/go/p4/config/v1"
	"google.golang.org/protobuf/proto"
)

// The sizes read from the embedded P4Info are those p4src/include/size.p4
// defines: a stale P4Info or a wrong accessor fails here.
func TestSizesMatchSizeP4(t *testing.T) {
	src, err := os.ReadFile("../p4src/include/size.p4")
	if err != nil {
		t.Fatal(err)
	}
	def := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (\w+) (\d+)$`).FindAllStringSubmatch(string(src), -1) {
		def[m[1]], _ = strconv.Atoi(m[2])
	}
	got, err := MustLoad().ResolveSizes()
	if err != nil {
		t.Fatal(err)
	}
	want := &Sizes{
		PortRole:        def["MAX_PORTS"],
		GroupClassifier: def["MAX_CLASSIFIER_RULES"],
		TMAddressV4:     def["MAX_TM_ADDRESSES"],
		TMAddressV6:     def["MAX_TM_ADDRESSES"],
		BucketTable:     def["BUCKET_TABLE_SIZE"],
		DefaultTM:       def["MAX_GROUPS"],
		L2Forward:       def["MAX_L2_ENTRIES"],
		TMMembers:       def["MAX_TMS"],
		TMCounter:       def["MAX_TMS"],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sizes (-size.p4 +P4Info):\n%s", diff)
	}
}

// A table without a size is an error at start-up, not a capacity of 0.
func TestResolveSizesNamesWhatIsMissing(t *testing.T) {
	info := proto.Clone(MustLoad().Info).(*p4configv1.P4Info)
	for _, tb := range info.Tables {
		if tb.Preamble.Name == TableGroupClassifier {
			tb.Size = 0
		}
	}
	s, err := NewSchema(info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveSizes(); err == nil || !regexp.MustCompile(`group_classifier.*declares no size`).MatchString(err.Error()) {
		t.Errorf("ResolveSizes error = %v, want one naming group_classifier", err)
	}
}
