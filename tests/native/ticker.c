/* A program that runs on its own, for `leakproof watch`: `ticker leak|bounded|fds` ticks every
 * 10 ms; each tick formats a line into a 1000-byte scratch buffer (freed at once) and a 64-byte
 * record, which "leak" keeps forever and the others free; "fds" keeps a descriptor per tick.
 * Runs until killed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct record {
    struct record *next;
    char text[56];
};

static struct record *kept;

static void tick(long i, int leak) {
    char *scratch = malloc(1000);
    snprintf(scratch, 1000, "tick %ld", i);
    struct record *r = malloc(sizeof *r); /* THE_ALLOCATION */
    strncpy(r->text, scratch, sizeof r->text - 1);
    r->text[sizeof r->text - 1] = 0;
    free(scratch);
    if (leak) {
        r->next = kept;
        kept = r;
    } else {
        free(r);
    }
}

static void keep_a_descriptor(void) {
    int fd = open("/dev/null", O_RDONLY); /* THE_OPEN */
    (void)fd;
}

int main(int argc, char **argv) {
    int leak = argc > 1 && strcmp(argv[1], "leak") == 0;
    int fds = argc > 1 && strcmp(argv[1], "fds") == 0;
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (long i = 0;; i++) {
        tick(i, leak);
        if (fds)
            keep_a_descriptor();
        nanosleep(&pause, NULL);
    }
}
