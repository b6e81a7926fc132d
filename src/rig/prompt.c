#include "rig/prompt.h"

#include <signal.h>
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
        /* Echo goes off before the prompt appears, so nothing typed after it is shown. Signals
         * that would end the process wait until the terminal is restored, so that Ctrl-C
         * never leaves the shell without echo. */
        struct termios saved, quiet;
        sigset_t block, old;
        bool quiet_on = false;
        if (!echo && tcgetattr(STDIN_FILENO, &saved) == 0) {
                sigemptyset(&block);
                sigaddset(&block, SIGINT);
                sigaddset(&block, SIGQUIT);
                sigaddset(&block, SIGTERM);
                sigaddset(&block, SIGHUP);
                sigaddset(&block, SIGTSTP);
                sigprocmask(SIG_BLOCK, &block, &old);
                quiet = saved;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                quiet.c_lflag |= ECHONL;
                quiet_on = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
                if (!quiet_on)
                        sigprocmask(SIG_SETMASK, &old, NULL);
        }
        fputs(prompt, stderr);
        fflush(stderr);
        int r = read_one_line(out);
        if (quiet_on) {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
                /* A Ctrl-C typed meanwhile is delivered here, with echo back on. */
                sigprocmask(SIG_SETMASK, &old, NULL);
        }
        return r;
}
