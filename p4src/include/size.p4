// Table and counter sizes of the symdist pipeline.
#ifndef SYMDIST_SIZE_P4
#define SYMDIST_SIZE_P4

#define MAX_PORTS 512
#define MAX_GROUPS 16
#define MAX_TMS 1024
#define MAX_CLASSIFIER_RULES 1024
#define MAX_TM_ADDRESSES 1024
#define MAX_L2_ENTRIES 4096
// Every bucket of every group: MAX_GROUPS groups of up to 65,536 buckets
// (bucket_id_t).
#define BUCKET_TABLE_SIZE 1048576
#define REASON_COUNT 8
#define DROP_CAUSE_COUNT 4

#endif
