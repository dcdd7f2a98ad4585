// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"os"

	"github.com/symdist/symdist/p4info"
)

// BucketCapacity is how much bucket table a pipeline holds: each group a
// power of two of at most MaxPerGroup buckets, all groups together at most
// Total (bucket_table's size).
type BucketCapacity struct {
	MaxPerGroup, Total int
}

// PipelineBuckets returns the bucket capacity of a pipeline from its
// P4Info: a group's bucket count is limited by the width of
// bucket_table's bucket field (the pipeline takes the bucket as
// h & bucket_mask), all groups' by bucket_table's size.
func PipelineBuckets(s *p4info.Schema) (BucketCapacity, error) {
	t := s.Tables[s.ID(p4info.TableBucketTable)]
	if t == nil {
		return BucketCapacity{}, fmt.Errorf("the P4Info has no table %s", p4info.TableBucketTable)
	}
	f := p4info.MatchField(t, p4info.FieldBucketTableBucket)
	if f == nil || f.GetBitwidth() < 1 || f.GetBitwidth() > 24 {
		return BucketCapacity{}, fmt.Errorf("the P4Info's %s has no usable field %s", p4info.TableBucketTable, p4info.FieldBucketTableBucket)
	}
	if s.Tables[s.ID(p4info.TableBucketMask)] == nil {
		return BucketCapacity{}, fmt.Errorf("the P4Info has no table %s (a pipeline older than per-group bucket counts)", p4info.TableBucketMask)
	}
	return BucketCapacity{MaxPerGroup: 1 << f.GetBitwidth(), Total: int(t.GetSize())}, nil
}

// bucketCapacity is the capacity every switch of the config offers: the
// pipeline built into symdist, or the one a switch names, whichever holds
// least.
func (c *Config) bucketCapacity(v *validator) BucketCapacity {
	capacity, err := PipelineBuckets(p4info.MustLoad())
	if err != nil {
		v.fail(at("switches"), "built-in pipeline: %v", err)
	}
	for i, s := range c.Switches {
		if s.P4Info == "" {
			continue
		}
		text, err := os.ReadFile(s.P4Info)
		if err != nil {
			v.fail(at("switches", i, "p4info"), "%v", err)
			continue
		}
		schema, err := p4info.Parse(text)
		if err == nil {
			var sc BucketCapacity
			if sc, err = PipelineBuckets(schema); err == nil {
				capacity.MaxPerGroup = min(capacity.MaxPerGroup, sc.MaxPerGroup)
				capacity.Total = min(capacity.Total, sc.Total)
			}
		}
		if err != nil {
			v.fail(at("switches", i, "p4info"), "%s: %v", s.P4Info, err)
		}
	}
	return capacity
}

// checkBuckets holds every group's bucket count (B) to a power of two the
// pipeline takes, and all of them together to bucket_table's size.
func (c *Config) checkBuckets(v *validator) {
	capacity := c.bucketCapacity(v)
	if !validBuckets(c.Buckets, capacity) {
		v.fail(at("buckets"), "must be a power of two up to %d (the pipeline's buckets per group), got %d", capacity.MaxPerGroup, c.Buckets)
	}
	total := 0
	for i, g := range c.Groups {
		if !validBuckets(g.Buckets, capacity) {
			v.fail(at("groups", i, "buckets"), "must be a power of two up to %d (the pipeline's buckets per group), got %d", capacity.MaxPerGroup, g.Buckets)
		}
		total += g.Buckets
	}
	if total > capacity.Total {
		v.fail(at("groups"), "the groups' buckets add up to %d, more than the pipeline's bucket_table holds (%d)", total, capacity.Total)
	}
}

func validBuckets(b int, capacity BucketCapacity) bool {
	return b > 0 && b&(b-1) == 0 && b <= capacity.MaxPerGroup
}
