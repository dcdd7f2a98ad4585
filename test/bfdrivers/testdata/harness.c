/* SPDX-License-Identifier: Apache-2.0
 *
 * Runs bf-drivers' _pi_update_device_start (pi_update_device_start.c, the
 * upstream text) on a device_data blob, the bytes bf_switchd's PI back end
 * gets from p4.tmp.P4DeviceConfig.device_data.
 *
 *   harness DEVICE_DATA OUTDIR
 *
 * The blob is placed at the very end of a mapping followed by a page
 * without access, so a read past its end (a length the blob does not hold)
 * is a segmentation fault, not a silent read of whatever follows. The
 * driver calls around the parsing are stand-ins: bf_pal_device_add, which
 * receives the files the function wrote, copies the binary and the
 * context to OUTDIR/binary and OUTDIR/context.json and prints what the
 * device profile names, one "key value" a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* PI (p4lang/PI v0.1.2 include/PI/pi_base.h): the types the function uses. */
typedef uint64_t pi_dev_id_t;
typedef struct pi_p4info_s pi_p4info_t;
typedef enum {
  PI_STATUS_SUCCESS = 0,
  PI_STATUS_BUFFER_ERROR = 3, /* its place in pi_base.h's enum */
  PI_STATUS_TARGET_ERROR = 1000
} pi_status_t;

/* PI src/utils/serialize.c v0.1.2, verbatim. */
static size_t retrieve_uint32(const char *src, uint32_t *v) {
  memcpy(v, src, sizeof(*v));
  return sizeof(*v);
}

/* bf-drivers include/dvm/bf_drv_profile.h (open-p4studio 1f97778f), the
 * structures the function fills, verbatim. */
#define MAX_P4_PIPELINES 8
#define PROG_NAME_LEN 256
#define MAX_PROGRAMS_PER_DEVICE MAX_P4_PIPELINES

typedef struct bf_p4_pipeline {
  char p4_pipeline_name[PROG_NAME_LEN];
  char *cfg_file;
  char *runtime_context_file;        // json context
  char *pi_config_file;              // json PI config
  int num_pipes_in_scope;            // num pipes in scope
  int pipe_scope[MAX_P4_PIPELINES];  // logical pipe list
} bf_p4_pipeline_t;

typedef struct bf_p4_program {
  char prog_name[PROG_NAME_LEN];
  char *bfrt_json_file;  // bf-rt info json file
  uint8_t num_p4_pipelines;
  bf_p4_pipeline_t p4_pipelines[MAX_P4_PIPELINES];
} bf_p4_program_t;

typedef struct bf_device_profile {
  uint8_t num_p4_programs;
  bf_p4_program_t p4_programs[MAX_PROGRAMS_PER_DEVICE];
  /* the serdes and microp firmware, JSON paths and coalescing settings
   * that follow are not touched by the function */
} bf_device_profile_t;

/* The driver calls, stand-ins. */
typedef int bf_status_t;
#define BF_SUCCESS 0
#define BF_DEV_WARM_INIT_FAST_RECFG 1
#define BF_DEV_SERDES_UPD_NONE 0
#define LOG_TRACE(...) ((void)0)
#define LOG_ERROR(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

static const char *outdir;

static bf_status_t bf_pal_device_warm_init_begin(pi_dev_id_t dev_id, int mode, int serdes, bool upgrade) {
  (void)dev_id, (void)mode, (void)serdes, (void)upgrade;
  return BF_SUCCESS;
}

static int pi_serialize_config_to_fd(const pi_p4info_t *p4info, int fd, int fmt) {
  (void)p4info, (void)fmt;
  return write(fd, "{}", 2) == 2 ? 0 : -1;
}

static int copy_file(const char *from, const char *name) {
  char to[4096];
  snprintf(to, sizeof to, "%s/%s", outdir, name);
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) return -1;
  char buf[65536];
  size_t n;
  long total = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (fwrite(buf, 1, n, out) != n) return -1;
    total += (long)n;
  }
  fclose(in);
  fclose(out);
  printf("%s_bytes %ld\n", name, total);
  return 0;
}

static bf_status_t bf_pal_device_add(pi_dev_id_t dev_id, bf_device_profile_t *p) {
  printf("dev_id %llu\n", (unsigned long long)dev_id);
  printf("num_p4_programs %u\n", p->num_p4_programs);
  printf("prog_name %s\n", p->p4_programs[0].prog_name);
  printf("num_p4_pipelines %u\n", p->p4_programs[0].num_p4_pipelines);
  printf("bfrt_json_file %s\n", p->p4_programs[0].bfrt_json_file ? "given" : "none");
  bf_p4_pipeline_t *pp = &p->p4_programs[0].p4_pipelines[0];
  printf("p4_pipeline_name %s\n", pp->p4_pipeline_name[0] ? pp->p4_pipeline_name : "(none)");
  printf("num_pipes_in_scope %d\n", pp->num_pipes_in_scope);
  if (copy_file(pp->cfg_file, "binary") || copy_file(pp->runtime_context_file, "context.json")) return 1;
  return BF_SUCCESS;
}

static pi_status_t static_p4_config(pi_dev_id_t dev_id, const pi_p4info_t *p4info) {
  (void)dev_id, (void)p4info;
  return PI_STATUS_SUCCESS;
}

pi_status_t _pi_update_device_start(pi_dev_id_t dev_id, const pi_p4info_t *p4info,
                                    const char *device_data, size_t device_data_size);

#include "pi_update_device_start.c"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DEVICE_DATA OUTDIR\n", argv[0]);
    return 2;
  }
  outdir = argv[2];
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    perror(argv[1]);
    return 2;
  }
  size_t size = (size_t)st.st_size, page = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = (size + page - 1) / page * page;
  char *map = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED || mprotect(map + span, page, PROT_NONE) != 0) {
    perror("mmap");
    return 2;
  }
  char *data = map + span - size; /* the blob ends where the guard page starts */
  for (size_t got = 0; got < size;) {
    ssize_t n = read(fd, data + got, size - got);
    if (n <= 0) {
      perror("read");
      return 2;
    }
    got += (size_t)n;
  }
  close(fd);
  pi_status_t s = _pi_update_device_start(0, NULL, data, size);
  printf("status %d\n", (int)s);
  return s == PI_STATUS_SUCCESS ? 0 : 1;
}
