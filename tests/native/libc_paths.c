#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>
#include <dirent.h>
/* glibc functions that allocate internally (reallocarray, strdup, asprintf, stdio, scandir,
 * realpath...): each balances exactly in the agent's counts, so none of them bypasses the
 * interposed functions. Reads its own region (layout: crates/preload/src/region.rs) and prints
 * "NAME DELTA" lines. */
static long live(void) { /* live bytes in this process's region */
    char path[600]; snprintf(path, sizeof path, "%s/%d", getenv("LEAKPROOF_PRELOAD_DIR"), getpid());
    int fd = open(path, O_RDONLY); unsigned long long w[4]; long sum = 0;
    for (int i = 0; i < 513; i++) { pread(fd, w, 32, 128 + i * 128 + 8); sum += (long)(w[0] - w[2]); }
    close(fd); return sum;
}
int main(void) {
    long b = live();
    void *p = reallocarray(NULL, 10, 100); p = reallocarray(p, 20, 100); free(p);
    printf("reallocarray %ld\n", live() - b); b = live();
    char *s = strdup("hello"); free(s); s = strndup("hello", 3); free(s);
    printf("strdup %ld\n", live() - b); b = live();
    char *a; asprintf(&a, "%d %s", 42, "x"); free(a);
    printf("asprintf %ld\n", live() - b); b = live();
    size_t n = 0; char *line = NULL; FILE *f = fopen("/etc/passwd", "r"); while (getline(&line, &n, f) > 0) {} fclose(f); free(line);
    printf("fopen+getline %ld\n", live() - b); b = live();
    char *buf; size_t len; FILE *m = open_memstream(&buf, &len); for (int i = 0; i < 1000; i++) fprintf(m, "%d", i); fclose(m); free(buf);
    printf("open_memstream %ld\n", live() - b); b = live();
    struct dirent **names; int k = scandir("/etc", &names, NULL, alphasort); for (int i = 0; i < k; i++) free(names[i]); free(names);
    printf("scandir %ld\n", live() - b); b = live();
    p = pvalloc(100); free(p); p = valloc(100); free(p); p = memalign(256, 100); free(p); p = aligned_alloc(64, 128); free(p);
    if (posix_memalign(&p, 64, 100) == 0) free(p);
    printf("aligned %ld\n", live() - b); b = live();
    p = malloc(100); p = realloc(p, 0); printf("realloc0 %ld\n", live() - b); b = live();
    char *rp = realpath("/etc/../etc/passwd", NULL); free(rp); char *cwd = getcwd(NULL, 0); free(cwd);
    printf("realpath+getcwd %ld\n", live() - b); b = live();
    p = malloc(200); /* kept: shows the region is really read */
    printf("kept %ld\n", live() - b);
    return 0;
}
