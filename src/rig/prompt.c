#include "rig/prompt.h"

#include <stdio.h>
#include <termios.h>

static int read_one_line(char **out)
{
        char *line = NULL;
        size_t cap = 0;
        errno = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
                int e = errno;
                free(line);
                return e ? -e : -ENODATA;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        if (n == 0) {
                free(line);
                return -ENODATA;
        }
        *out = line;
        return 0;
}

int prompt_line(const char *prompt, bool echo, bool allow_pipe, char **out)
{
        if (!isatty(STDIN_FILENO)) {
                if (!allow_pipe)
                        return -ENOTTY;
                return read_one_line(out);
        }
        /* Echo goes off before the prompt appears, so nothing typed after it is shown. */
        struct termios saved, quiet;
        bool restore = false;
        if (!echo && tcgetattr(STDIN_FILENO, &saved) == 0) {
                quiet = saved;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                quiet.c_lflag |= ECHONL;
                restore = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
        }
        fputs(prompt, stderr);
        fflush(stderr);
        int r = read_one_line(out);
        if (restore)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        return r;
}
