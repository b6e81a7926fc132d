/* Idle tracking for auto_sleep_s: the router and the API mark a rig active; rigd's sweep pauses
 * rigs idle longer than their auto_sleep_s. Thread-safe; rigd owns one (struct rigd.activity). */
#pragma once

#include "core/ids.h"

#include <stdint.h>

struct activity;

struct activity *activity_new(void);
void activity_free(struct activity *a);
void activity_touch(struct activity *a, const char *rig_id, int64_t now_ms);
/* The last activity of a rig in milliseconds (0: none recorded since rigd started). */
int64_t activity_last(struct activity *a, const char *rig_id);
void activity_forget(struct activity *a, const char *rig_id);
