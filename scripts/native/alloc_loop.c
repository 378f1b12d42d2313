/* An allocation-heavy loop for the native agent's overhead figure: N rounds of malloc / realloc /
 * free of pseudo-random sizes over a small working set, on THREADS threads. Prints nothing. */
#include <pthread.h>
#include <stdlib.h>

static long rounds = 2000000;

static void *loop(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *slot[64] = {0};
    for (long i = 0; i < rounds; i++) {
        unsigned r = rand_r(&seed);
        int j = r % 64;
        if (slot[j] && (r & 3) == 0) {
            slot[j] = realloc(slot[j], 16 + r % 512);
        } else {
            free(slot[j]);
            slot[j] = malloc(16 + r % 512);
        }
    }
    for (int j = 0; j < 64; j++) free(slot[j]);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2) rounds = atol(argv[2]);
    pthread_t t[64];
    for (long i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, loop, (void *)(i + 1));
    for (long i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
    return 0;
}
