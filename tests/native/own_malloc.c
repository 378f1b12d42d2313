/* A program with its own allocator (a bump allocator defining malloc and friends): the
 * executable's definitions win over any preloaded ones, so the native agent counts nothing. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static char arena[1 << 22];
static size_t used;

void *malloc(size_t n) {
    size_t at = (used + 15) & ~(size_t)15;
    if (at + n > sizeof arena) return NULL;
    used = at + n;
    return arena + at;
}
void free(void *p) { (void)p; }
void *calloc(size_t n, size_t size) { void *p = malloc(n * size); if (p) memset(p, 0, n * size); return p; }
void *realloc(void *p, size_t n) { void *q = malloc(n); if (p && q) memmove(q, p, n); return q; }

int main(void) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char *kept = malloc(200);
        (void)kept;
        fputs("ok\n", stdout);
        fflush(stdout);
    }
    return 0;
}
