// The floor of reload_bench.py: the least any tool can do between a `..data` rename and a webhook's
// receipt. One thread blocks in read(2) on an inotify descriptor watching the volume's root; on
// `MOVED_TO ..data` it writes a fixed POST to a kept-alive connection and reads the answer. No content
// read, no hashing, no check, no retries: not a usable reloader, a yardstick.
//
// Built and run by `reload_bench.py --reference`, which passes the arguments podagent gets and of which
// this uses only `--dir DIR` and `--webhook http://127.0.0.1:PORT/...`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *dir = NULL, *url = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        if (!strcmp(argv[i], "--webhook")) url = argv[i + 1];
    }
    const char *port_text = url ? strrchr(url, ':') : NULL;
    if (!dir || !port_text || strncmp(url, "http://127.0.0.1:", 17) != 0) {
        fprintf(stderr, "usage: %s --dir DIR --webhook http://127.0.0.1:PORT/PATH\n", argv[0]);
        return 64;
    }
    int inotify = inotify_init1(IN_CLOEXEC);
    if (inotify < 0 || inotify_add_watch(inotify, dir, IN_MOVED_TO) < 0) {
        perror("inotify");
        return 1;
    }
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port_text + 1))};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect(sock, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        return 1;
    }
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char request[] = "POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    char events[65536], answer[512];
    for (;;) {
        ssize_t n = read(inotify, events, sizeof events);
        if (n <= 0) continue;
        for (char *p = events; p < events + n;) {
            struct inotify_event *event = (struct inotify_event *)p;
            p += sizeof *event + event->len;
            if ((event->mask & IN_MOVED_TO) && event->len && !strcmp(event->name, "..data")) {
                if (write(sock, request, sizeof request - 1) < 0 || read(sock, answer, sizeof answer) <= 0) {
                    perror("webhook");
                    return 1;
                }
            }
        }
    }
}
