/* A line-per-request target for the open-site tests of the native agent. Each line is a command;
 * the reply is "ok" (or "done" for churn):
 *   keep      opens one descriptor of each kind and keeps them (each call on a marked line)
 *   thread    starts a thread that lives until "release"
 *   transient opens and closes one of each kind, starts and joins threads (one returns, one
 *             calls pthread_exit, one is cancelled): nothing stays
 *   churn     4 threads open and close 2000 descriptors each while the main thread forks
 *             children that open, close and exit; a thread that calls pthread_exit
 *   many      raises its descriptor limit and keeps up to 5000 more descriptors: "many N"
 *   release   closes everything kept and ends the kept threads */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KEPT 8192

static int kept[MAX_KEPT];
static int nkept;
static FILE *streams[MAX_KEPT];
static int nstreams;
static pthread_t threads[256];
static int nthreads;
static int stop[2] = {-1, -1}; /* kept threads read this pipe until it is closed */

static void keep(int fd) {
    if (fd >= 0 && nkept < MAX_KEPT)
        kept[nkept++] = fd;
}

static void keep_one_of_each(void) {
    int p[2];
    keep(open("/dev/null", O_RDONLY)); /* OPEN_SITE */
    keep(socket(AF_INET, SOCK_STREAM, 0)); /* SOCKET_SITE */
    if (pipe(p) == 0) { /* PIPE_SITE */
        keep(p[0]);
        keep(p[1]);
    }
    keep(dup(0)); /* DUP_SITE */
    keep(fcntl(0, F_DUPFD_CLOEXEC, 10)); /* FCNTL_SITE */
    keep(eventfd(0, 0)); /* EVENTFD_SITE */
    keep(epoll_create1(0)); /* EPOLL_SITE */
    keep(memfd_create("handles", 0)); /* MEMFD_SITE */
    FILE *f = fopen("/dev/null", "r"); /* FOPEN_SITE */
    if (f && nstreams < MAX_KEPT)
        streams[nstreams++] = f;
}

static void *wait_for_stop(void *arg) {
    char c;
    (void)arg;
    while (read(stop[0], &c, 1) > 0)
        ;
    return NULL;
}

static void start_kept_thread(void) {
    if (stop[0] < 0 && pipe(stop) != 0) /* STOP_PIPE */
        return;
    if (nthreads < 256 && pthread_create(&threads[nthreads], NULL, wait_for_stop, NULL) == 0) /* THREAD_SITE */
        nthreads++;
}

static void *nothing(void *arg) { return arg; }

static void *exits_early(void *arg) {
    pthread_exit(arg);
    return NULL;
}

static void open_and_close_each(void) {
    int p[2];
    close(open("/dev/null", O_RDONLY));
    close(openat(AT_FDCWD, "/dev/null", O_RDONLY));
    close(creat("/dev/null", 0600));
    close(socket(AF_UNIX, SOCK_STREAM, 0));
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0) {
        close(p[0]);
        close(p[1]);
    }
    if (pipe2(p, O_CLOEXEC) == 0) {
        int d = dup2(p[0], 100);
        close(dup3(p[1], 101, O_CLOEXEC));
        close(d);
        close(p[0]);
        close(p[1]);
    }
    close(eventfd(0, 0));
    close(epoll_create(1));
    close(memfd_create("x", 0));
    FILE *f = fopen("/dev/null", "r");
    if (f)
        fclose(f);
}

static void *blocks_until_cancelled(void *arg) {
    int *fds = arg;
    char c;
    while (read(fds[0], &c, 1) > 0) /* a cancellation point */
        ;
    return NULL;
}

static void transient(void) {
    pthread_t t;
    int p[2];
    open_and_close_each();
    if (pthread_create(&t, NULL, nothing, NULL) == 0)
        pthread_join(t, NULL);
    if (pthread_create(&t, NULL, exits_early, NULL) == 0)
        pthread_join(t, NULL);
    /* Cancelled: unwinds through the agent's start trampoline; the agent finds it gone. */
    if (pipe(p) == 0) {
        if (pthread_create(&t, NULL, blocks_until_cancelled, p) == 0) {
            pthread_cancel(t);
            pthread_join(t, NULL);
        }
        close(p[0]);
        close(p[1]);
    }
}

static void *churner(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        open_and_close_each();
        if (i % 200 == 0)
            transient();
    }
    return NULL;
}

static void churn(void) {
    pthread_t t[4];
    int started = 0;
    for (int i = 0; i < 4; i++)
        started += pthread_create(&t[i], NULL, churner, NULL) == 0;
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            open_and_close_each();
            int fd = open("/dev/null", O_RDONLY); /* the child keeps it until it exits */
            (void)fd;
            _exit(0);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
}

static int many(void) {
    struct rlimit limit;
    int n = 0;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 6000 && limit.rlim_max >= 6000) {
        limit.rlim_cur = 6000;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    for (int i = 0; i < 5000 && nkept < MAX_KEPT; i++) {
        int fd = dup(0); /* MANY_SITE */
        if (fd < 0)
            break;
        keep(fd);
        n++;
    }
    return n;
}

static void release(void) {
    for (int i = 0; i < nkept; i++)
        close(kept[i]);
    for (int i = 0; i < nstreams; i++)
        fclose(streams[i]);
    nkept = nstreams = 0;
    if (stop[1] >= 0) {
        close(stop[1]);
        for (int i = 0; i < nthreads; i++)
            pthread_join(threads[i], NULL);
        close(stop[0]);
        stop[0] = stop[1] = -1;
    }
    nthreads = 0;
}

int main(void) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        void *scratch = malloc(64); /* every request allocates: the agent answers dumps here */
        const char *reply = "ok";
        char counted[32];
        if (strncmp(line, "many", 4) == 0) {
            snprintf(counted, sizeof counted, "many %d", many());
            reply = counted;
        } else if (strncmp(line, "keep", 4) == 0)
            keep_one_of_each();
        else if (strncmp(line, "thread", 6) == 0)
            start_kept_thread();
        else if (strncmp(line, "transient", 9) == 0)
            transient();
        else if (strncmp(line, "churn", 5) == 0) {
            churn();
            reply = "done";
        } else if (strncmp(line, "release", 7) == 0)
            release();
        free(scratch);
        puts(reply);
        fflush(stdout);
    }
    return 0;
}
