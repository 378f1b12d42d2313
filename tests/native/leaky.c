/* A line-per-request "server" for the native agent's tests: each request allocates a 200-byte
 * struct; with argument "leak" it is kept forever (a list), otherwise freed. Replies "ok". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
    struct request *next;
    char data[192];
};

static struct request *kept;

static void handle(const char *line, int leak) {
    struct request *r = malloc(sizeof *r); /* THE_ALLOCATION */
    strncpy(r->data, line, sizeof r->data - 1);
    r->data[sizeof r->data - 1] = 0;
    if (leak) {
        r->next = kept;
        kept = r;
    } else {
        free(r);
    }
}

int main(int argc, char **argv) {
    int leak = argc > 1 && strcmp(argv[1], "leak") == 0;
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        handle(line, leak);
        fputs("ok\n", stdout);
        fflush(stdout);
    }
    return 0;
}
