/* A tiny HTTP server for the drive tests: `tcp_server PORT leak|bounded|fds|threads` listens on
 * 127.0.0.1:PORT; per connection it reads the request, allocates a 200-byte record for it, keeps
 * the record forever ("leak") or frees it (the others), answers 200 "ok" and closes. "fds" also
 * keeps a descriptor per request, "threads" starts a thread per request that never ends. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct record {
    struct record *next;
    char line[192];
};

static struct record *kept;

static void keep_a_descriptor(void) {
    int fd = open("/dev/null", O_RDONLY); /* THE_OPEN */
    (void)fd;
}

static void *idle_forever(void *arg) {
    for (;;)
        pause();
    return arg;
}

static void keep_a_thread(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_forever, NULL) == 0) /* THE_THREAD */
        pthread_detach(t);
}

static void handle(const char *line, int leak) {
    struct record *r = malloc(sizeof *r); /* THE_ALLOCATION */
    strncpy(r->line, line, sizeof r->line - 1);
    r->line[sizeof r->line - 1] = 0;
    if (leak) {
        r->next = kept;
        kept = r;
    } else {
        free(r);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: tcp_server PORT leak|bounded|fds|threads\n", stderr);
        return 2;
    }
    int leak = strcmp(argv[2], "leak") == 0;
    int fds = strcmp(argv[2], "fds") == 0, threads = strcmp(argv[2], "threads") == 0;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 64) != 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            continue;
        char line[256];
        ssize_t n = read(c, line, sizeof line - 1);
        if (n > 0) {
            line[n] = 0;
            handle(line, leak);
            if (fds)
                keep_a_descriptor();
            if (threads)
                keep_a_thread();
            static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                        "Connection: close\r\n\r\nok\n";
            (void)write(c, reply, sizeof reply - 1);
        }
        close(c);
    }
}
