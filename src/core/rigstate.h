/* The rig state machine: which actions each state allows and where they lead. Pure. */
#pragma once

#include "core/rigs.h"

enum rig_action {
        RA_START = 0,
        RA_STOP,
        RA_RESTART,
        RA_PAUSE,
        RA_RESUME,
        RA_DELETE,
        RA_EXEC, /* needs a running rig; no transition */
};

/* Returns 0 and the target state, or -EBUSY when the action is impossible in `from`
 * (an HTTP 409). */
int rig_transition(enum rig_state from, enum rig_action a, enum rig_state *to);
const char *rig_action_name(enum rig_action a);
int rig_action_from_name(const char *s, size_t len); /* action or -EINVAL */
