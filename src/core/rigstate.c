#include "core/rigstate.h"

static const char *const action_names[] = {
    [RA_START] = "start",   [RA_STOP] = "stop",     [RA_RESTART] = "restart", [RA_PAUSE] = "pause",
    [RA_RESUME] = "resume", [RA_DELETE] = "delete", [RA_EXEC] = "exec",
};

const char *rig_action_name(enum rig_action a)
{
        return a <= RA_EXEC ? action_names[a] : "?";
}

int rig_action_from_name(const char *s, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(action_names); i++)
                if (memeq_str(s, len, action_names[i]))
                        return (int)i;
        return -EINVAL;
}

int rig_transition(enum rig_state from, enum rig_action a, enum rig_state *to)
{
        /* A rig being created accepts nothing until the create finishes. */
        if (from == RIG_CREATING)
                return -EBUSY;
        switch (a) {
        case RA_START:
                if (from != RIG_STOPPED && from != RIG_ERROR)
                        return -EBUSY;
                *to = RIG_RUNNING;
                return 0;
        case RA_STOP:
                if (from == RIG_STOPPED)
                        return -EBUSY;
                *to = RIG_STOPPED;
                return 0;
        case RA_RESTART:
                *to = RIG_RUNNING;
                return 0;
        case RA_PAUSE:
                if (from != RIG_RUNNING)
                        return -EBUSY;
                *to = RIG_PAUSED;
                return 0;
        case RA_RESUME:
                if (from != RIG_PAUSED)
                        return -EBUSY;
                *to = RIG_RUNNING;
                return 0;
        case RA_DELETE:
                *to = RIG_STOPPED;
                return 0;
        case RA_EXEC:
                if (from != RIG_RUNNING)
                        return -EBUSY;
                *to = from;
                return 0;
        }
        return -EBUSY;
}
