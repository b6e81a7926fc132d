/* Host commands of rigd. Each returns the process exit code. */
#pragma once

#include "rigd/rigd.h"

int cmd_init(const char *dir, const char *email, const char *password_file);
int cmd_audit_verify(const char *dir);
