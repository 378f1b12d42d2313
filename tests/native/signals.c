/* Allocation from signal handlers under the native agent. On each "go" line, the main thread and
 * 3 workers malloc, free and realloc heavily for a while, as a timer (SIGALRM, every 50 us) and a
 * signaller thread (SIGUSR1 sent to each allocating thread in turn) interrupt them; each handler
 * mallocs and frees a block. The main thread also forks now and then (the child allocates and
 * exits): a handler may run while the agent's fork handlers hold its capture lock. Everything is
 * freed by the end of a round, which prints "done HANDLED" (how many handlers ran in the round).
 *
 * glibc's malloc is not async-signal-safe: a handler that interrupts glibc while it holds an
 * arena lock and then needs that lock deadlocks in glibc itself, with or without the agent. So
 * the handlers allocate one size (HANDLER_SIZE) that nothing else asks for, whose tcache bin each
 * thread fills before it unblocks the signals: a handler's malloc and free then take a block
 * from, and put it back into, the thread's own cache without a lock. The handlers do not nest
 * (each blocks both signals). What remains under test is the agent: its counters, its capture
 * lock and its unwinder calls, interrupted anywhere. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3
#define OPS 60000
#define HANDLER_SIZE 1000 /* chunk 1008: the workers ask for 1..900 and 1100..4000 bytes only */
#define FORK_EVERY 2000   /* operations of the main thread between forks */

static atomic_long handled;
static atomic_int running;
static pthread_t allocating[WORKERS + 1];

static void on_signal(int sig) {
    (void)sig;
    char *p = malloc(HANDLER_SIZE);
    if (p) {
        p[0] = 1;
        p[HANDLER_SIZE - 1] = 2;
    }
    free(p);
    atomic_fetch_add(&handled, 1);
}

static size_t worker_size(unsigned r) {
    return r & 1 ? 1 + r % 900 : 1100 + r % 2900;
}

/* Fills this thread's tcache bin for the handlers' size, then lets the signals in. */
static void arm(void) {
    free(malloc(HANDLER_SIZE));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void disarm(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *churn(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *mine[32] = {0};
    arm();
    for (int i = 0; i < OPS; i++) {
        unsigned r = rand_r(&seed);
        int j = r % 32;
        if (!mine[j]) {
            mine[j] = r & 2 ? malloc(worker_size(r)) : calloc(1, worker_size(r));
        } else if (r & 4) {
            free(mine[j]);
            mine[j] = NULL;
        } else {
            void *q = realloc(mine[j], worker_size(r >> 3));
            if (q) mine[j] = q;
        }
        if (arg == (void *)1 && i % FORK_EVERY == FORK_EVERY - 1) {
            pid_t pid = fork();
            if (pid == 0) {
                free(malloc(100));
                _exit(0);
            }
            if (pid > 0) waitpid(pid, NULL, 0);
        }
    }
    disarm();
    for (int j = 0; j < 32; j++) free(mine[j]);
    return NULL;
}

static void *signaller(void *arg) {
    (void)arg;
    struct timespec pause = {0, 20000};
    for (unsigned k = 0; atomic_load(&running); k++) {
        pthread_kill(allocating[k % (WORKERS + 1)], SIGUSR1);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void round_of_signals(void) {
    struct itimerval every = {{0, 50}, {0, 50}}, off = {{0, 0}, {0, 0}};
    pthread_t workers[WORKERS], sender;
    atomic_store(&handled, 0);
    atomic_store(&running, 1);
    allocating[0] = pthread_self();
    /* Created with the signals blocked (inherited); each unblocks them once armed. */
    for (long i = 0; i < WORKERS; i++) pthread_create(&workers[i], NULL, churn, (void *)(i + 2));
    for (int i = 0; i < WORKERS; i++) allocating[i + 1] = workers[i];
    pthread_create(&sender, NULL, signaller, NULL);
    setitimer(ITIMER_REAL, &every, NULL);
    churn((void *)1);
    atomic_store(&running, 0); /* before any join: the signaller never targets a joined thread */
    pthread_join(sender, NULL);
    for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    setitimer(ITIMER_REAL, &off, NULL);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGALRM);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    disarm(); /* only allocating threads, once armed, take the signals */
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        round_of_signals();
        printf("done %ld\n", atomic_load(&handled));
        fflush(stdout);
    }
    return 0;
}
