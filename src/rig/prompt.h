/* Reading secrets and answers from the user. */
#pragma once

#include "base/util.h"

/* Reads one line (without its newline) from standard input. When stdin is a terminal, prints
 * prompt on stderr first, and with echo off does not show what is typed. When stdin is not a
 * terminal, reads it only if allow_pipe, else returns -ENOTTY. Returns 0, -ENODATA on end of
 * input or an empty line, or -errno. *out is wiped-and-freed with secret_free. */
int prompt_line(const char *prompt, bool echo, bool allow_pipe, char **out);
