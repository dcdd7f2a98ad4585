// SPDX-License-Identifier: Apache-2.0
// Table and counter sizes of the symdist pipeline. Each can be overridden
// at compile time (-DBUCKET_TABLE_SIZE=...): the Tofino build uses that to
// find the largest tables that fit (docs/hardware.md).
#ifndef SYMDIST_SIZE_P4
#define SYMDIST_SIZE_P4

#ifndef MAX_PORTS
#define MAX_PORTS 512
#endif
#ifndef MAX_GROUPS
#define MAX_GROUPS 16
#endif
#ifndef MAX_TMS
#define MAX_TMS 1024
#endif
#ifndef MAX_CLASSIFIER_RULES
#define MAX_CLASSIFIER_RULES 1024
#endif
#ifndef MAX_TM_ADDRESSES
#define MAX_TM_ADDRESSES 1024
#endif
#ifndef MAX_L2_ENTRIES
#define MAX_L2_ENTRIES 4096
#endif
// Every bucket of every group: MAX_GROUPS groups of up to 65,536 buckets
// (bucket_id_t).
#ifndef BUCKET_TABLE_SIZE
#define BUCKET_TABLE_SIZE 1048576
#endif
#define REASON_COUNT 8
#define DROP_CAUSE_COUNT 4

#endif
