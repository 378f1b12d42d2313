/* A descriptor-heavy loop for scripts/native-fd-overhead.sh: `fd_loop ROUNDS`; each round opens
 * and closes /dev/null (open), a pipe (pipe2) and a socket (socket), 4 descriptors, and dup()s
 * one of them. No allocation in the loop. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
    long sum = 0;
    for (long i = 0; i < rounds; i++) {
        int p[2];
        int f = open("/dev/null", O_RDONLY);
        int d = dup(f);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (pipe2(p, O_CLOEXEC) != 0)
            return 1;
        sum += f + d + s + p[0] + p[1];
        close(p[1]);
        close(p[0]);
        close(s);
        close(d);
        close(f);
    }
    printf("%ld\n", sum);
    return 0;
}
