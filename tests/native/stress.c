/* Stress for the native agent: on each "go" line, 4 threads allocate with every interposed
 * function, hand blocks to each other (freed or realloc'd on another thread), fork children that
 * allocate and exit, then everything is freed and "done" is printed. On "child", a child is forked
 * that keeps 10 blocks of 1000 bytes and waits (killed at exit). */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define OPS 20000
#define SHARED 64

static void *shared[SHARED];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
void *keep[10]; /* the "child" command's kept blocks */

static void *any_alloc(unsigned k, size_t n) {
    void *p = NULL;
    switch (k % 8) {
    case 0: return malloc(n);
    case 1: return calloc(1, n);
    case 2: return memalign(64, n);
    case 3: return posix_memalign(&p, 32, n) == 0 ? p : NULL;
    case 4: return aligned_alloc(128, (n + 127) / 128 * 128);
    case 5: return valloc(n);
    case 6: return pvalloc(n);
    default: return realloc(NULL, n);
    }
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *mine[16] = {0};
    for (int i = 0; i < OPS; i++) {
        unsigned r = rand_r(&seed);
        int j = r % 16;
        if (mine[j]) {
            if (r & 1) { free(mine[j]); mine[j] = NULL; }
            else mine[j] = realloc(mine[j], 1 + r % 3000);
        } else {
            mine[j] = any_alloc(r, 1 + r % 5000);
        }
        if (i % 8 == 0) { /* swap a block with another thread: freed or grown over there */
            pthread_mutex_lock(&lock);
            void *t = shared[r % SHARED];
            shared[r % SHARED] = mine[j];
            mine[j] = t;
            pthread_mutex_unlock(&lock);
        }
        if (i % 5000 == 0) { /* fork while the other threads allocate */
            pid_t pid = fork();
            if (pid == 0) {
                void *q = malloc(100);
                free(malloc(5000));
                free(q);
                _exit(0);
            }
            if (pid > 0) waitpid(pid, NULL, 0);
        }
    }
    for (int j = 0; j < 16; j++) free(mine[j]);
    return NULL;
}

int main(void) {
    char line[64];
    pid_t child = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "child", 5) == 0) {
            int fds[2];
            if (pipe(fds) != 0) return 1;
            child = fork();
            if (child == 0) {
                for (int i = 0; i < 10; i++) keep[i] = malloc(1000);
                (void)write(fds[1], "x", 1);
                pause();
                _exit(0);
            }
            char c;
            (void)read(fds[0], &c, 1);
            puts("child ready");
        } else {
            pthread_t t[THREADS];
            for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
            for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
            for (int i = 0; i < SHARED; i++) { free(shared[i]); shared[i] = NULL; }
            puts("done");
        }
        fflush(stdout);
    }
    if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); }
    return 0;
}
