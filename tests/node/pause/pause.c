/* pause: the node tier's sandbox process. It holds a Pod's namespaces open, sleeping until
 * SIGTERM or SIGINT ends it, and reaps every child that is handed to it (it may be PID 1 of a
 * Pod that shares its process namespace). Built static, so that its image is this one file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(void) {
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGCHLD);
    /* Blocked signals stay pending until sigwait takes them: none is lost between waits. */
    if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
        perror("pause: sigprocmask");
        return 1;
    }
    for (;;) {
        int sig;
        if (sigwait(&wanted, &sig) != 0) {
            perror("pause: sigwait");
            return 1;
        }
        if (sig != SIGCHLD)
            return 0;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}
