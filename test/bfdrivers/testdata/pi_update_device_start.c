/* The function of bf-drivers' PI back end that reads a P4DeviceConfig's
 * device_data, copied verbatim (lines 184-370) from p4lang/open-p4studio,
 * pkgsrc/bf-drivers/src/pi/pi_imp.c at commit
 * 1f97778f9ad5c8165bfce552fffe27c69887756b (the file's last change:
 * 99f06689cf534e780533964684623d30acdc70c2).
 *
 * Copyright (C) 2024 Intel Corporation
 * Licensed under the Apache License, Version 2.0; SPDX-License-Identifier: Apache-2.0
 *
 * harness.c compiles it with stand-ins for the driver calls around it.
 * TestVendoredCopyIsUpstream compares it with the upstream file where that
 * is at hand. Everything below the marker line is the upstream text. */
/* ---- upstream ---- */
pi_status_t _pi_update_device_start(pi_dev_id_t dev_id,
                                    const pi_p4info_t *p4info,
                                    const char *device_data,
                                    size_t device_data_size) {
  (void)device_data_size;
  bool is_bfrt_present = false;
  LOG_TRACE("%s", __func__);

  bf_status_t status;

  status = bf_pal_device_warm_init_begin(
      dev_id, BF_DEV_WARM_INIT_FAST_RECFG, BF_DEV_SERDES_UPD_NONE, true);
  if (status != BF_SUCCESS) return PI_STATUS_TARGET_ERROR + status;

  const char *device_data_curr = device_data;
  uint32_t chunk_size;

// read prog name
#define _PI_UPDATE_MAX_NAME_SIZE 100
  device_data_curr += retrieve_uint32(device_data_curr, &chunk_size);
  if (chunk_size > _PI_UPDATE_MAX_NAME_SIZE) return PI_STATUS_BUFFER_ERROR;
  char prog_name[_PI_UPDATE_MAX_NAME_SIZE + 1];
  strncpy(prog_name, device_data_curr, chunk_size);
  prog_name[chunk_size] = '\0';
  device_data_curr += chunk_size;

#define _PI_UPDATE_MAX_TMP_FILENAME_SIZE (_PI_UPDATE_MAX_NAME_SIZE + 32)

  // cfg data
  device_data_curr += retrieve_uint32(device_data_curr, &chunk_size);
  char cfg_file_name[_PI_UPDATE_MAX_TMP_FILENAME_SIZE];
  snprintf(cfg_file_name,
           _PI_UPDATE_MAX_TMP_FILENAME_SIZE,
           "%s-cfg.bin.XXXXXX",
           prog_name);
  int cfg_fd = mkstemp(cfg_file_name);
  if (cfg_fd == -1) {
    LOG_ERROR("%s: error when trying to create temp config file '%s'",
              __func__,
              cfg_file_name);
    return PI_STATUS_TARGET_ERROR;
  }
  ssize_t written = 0;
  while ((written = write(cfg_fd, device_data_curr, chunk_size)) != -1) {
    device_data_curr += written;
    chunk_size -= written;
    if (chunk_size == 0) break;
  }
  if (written == -1) {
    LOG_ERROR(
        "%s: error when writing config file '%s'", __func__, cfg_file_name);
    close(cfg_fd);
    return PI_STATUS_TARGET_ERROR;
  }

  // p4info native json config
  device_data_curr += retrieve_uint32(device_data_curr, &chunk_size);
  char ctx_file_name[_PI_UPDATE_MAX_TMP_FILENAME_SIZE];
  snprintf(ctx_file_name,
           _PI_UPDATE_MAX_TMP_FILENAME_SIZE,
           "%s-ctx.json.XXXXXX",
           prog_name);
  int ctx_fd = mkstemp(ctx_file_name);
  if (ctx_fd == -1) {
    LOG_ERROR("%s: error when trying to create temp context file '%s'",
              __func__,
              ctx_file_name);
    close(cfg_fd);
    return PI_STATUS_TARGET_ERROR;
  }
  while ((written = write(ctx_fd, device_data_curr, chunk_size)) != -1) {
    device_data_curr += written;
    chunk_size -= written;
    if (chunk_size == 0) break;
  }
  if (written == -1) {
    LOG_ERROR(
        "%s: error when writing context file '%s'", __func__, ctx_file_name);
    close(cfg_fd);
    close(ctx_fd);
    return PI_STATUS_TARGET_ERROR;
  }

  char pi_config_file_name[_PI_UPDATE_MAX_TMP_FILENAME_SIZE];
  snprintf(pi_config_file_name,
           _PI_UPDATE_MAX_TMP_FILENAME_SIZE,
           "%s-pi-config.json.XXXXXX",
           prog_name);
  int pi_config_fd = mkstemp(pi_config_file_name);
  if (pi_config_fd == -1) {
    close(cfg_fd);
    close(ctx_fd);
    return PI_STATUS_TARGET_ERROR;
  }
  if (pi_serialize_config_to_fd(p4info, pi_config_fd, 0) == -1) {
    close(cfg_fd);
    close(ctx_fd);
    close(pi_config_fd);
    return PI_STATUS_TARGET_ERROR;
  }
  bf_device_profile_t device_profile;
  bf_p4_pipeline_t *pipeline_profile =
      &(device_profile.p4_programs[0].p4_pipelines[0]);
  pipeline_profile->p4_pipeline_name[0] = '\0';
  char bfrt_file_name[_PI_UPDATE_MAX_TMP_FILENAME_SIZE];
  int bfrt_fd = -1;
  device_profile.num_p4_programs = 1;
  device_profile.p4_programs[0].bfrt_json_file = NULL;
  device_profile.p4_programs[0].num_p4_pipelines = 1;
  snprintf(
      device_profile.p4_programs[0].prog_name, PROG_NAME_LEN, "%s", prog_name);

  device_data_curr += retrieve_uint32(device_data_curr, &chunk_size);
  if (chunk_size > _PI_UPDATE_MAX_NAME_SIZE) return PI_STATUS_BUFFER_ERROR;
  // If chunk_size is 0, then no p4_pipeline name was sent. Don't try and parse
  // bf-rt.json or the profile name
  if (chunk_size != 0) {
    // read p4_pipeline_name
    char p4_pipeline_name[_PI_UPDATE_MAX_NAME_SIZE + 1];
    strncpy(p4_pipeline_name, device_data_curr, chunk_size);
    p4_pipeline_name[chunk_size] = '\0';
    device_data_curr += chunk_size;

    // bfrt info
    device_data_curr += retrieve_uint32(device_data_curr, &chunk_size);
    is_bfrt_present = true;
    snprintf(bfrt_file_name,
             _PI_UPDATE_MAX_TMP_FILENAME_SIZE,
             "%s-bf-rt.json..XXXXXX",
             prog_name);
    bfrt_fd = mkstemp(bfrt_file_name);
    if (bfrt_fd == -1) {
      LOG_ERROR("%s: error when trying to create temp bfrt file '%s'",
                __func__,
                bfrt_file_name);
      close(cfg_fd);
      close(ctx_fd);
      close(pi_config_fd);
      return PI_STATUS_TARGET_ERROR;
    }
    written = 0;
    while ((written = write(bfrt_fd, device_data_curr, chunk_size)) != -1) {
      device_data_curr += written;
      chunk_size -= written;
      if (chunk_size == 0) break;
    }
    if (written == -1) {
      LOG_ERROR(
          "%s: error when writing bfrt file '%s'", __func__, bfrt_file_name);
      close(cfg_fd);
      close(ctx_fd);
      close(pi_config_fd);
      close(bfrt_fd);
      return PI_STATUS_TARGET_ERROR;
    }

    device_profile.p4_programs[0].bfrt_json_file = bfrt_file_name;

    snprintf(pipeline_profile->p4_pipeline_name,
             _PI_UPDATE_MAX_TMP_FILENAME_SIZE,
             "%s",
             p4_pipeline_name);
  }

  pipeline_profile->num_pipes_in_scope = 0;
  pipeline_profile->cfg_file = cfg_file_name;
  pipeline_profile->runtime_context_file = ctx_file_name;
  pipeline_profile->pi_config_file = pi_config_file_name;
  status = bf_pal_device_add(dev_id, &device_profile);

  unlink(cfg_file_name);
  unlink(ctx_file_name);
  unlink(pi_config_file_name);
  close(cfg_fd);
  close(ctx_fd);
  close(pi_config_fd);
  if (is_bfrt_present) {
    unlink(bfrt_file_name);
    close(bfrt_fd);
  }

  if (status != BF_SUCCESS) return PI_STATUS_TARGET_ERROR + status;

  return static_p4_config(dev_id, p4info);
#undef _PI_UPDATE_MAX_NAME_SIZE
#undef _PI_UPDATE_MAX_TMP_FILENAME_SIZE
}
