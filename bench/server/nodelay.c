/* Benchmark-only LD_PRELOAD shim: sets TCP_NODELAY on every accepted socket, to measure what
 * ztna-server does once server/http.c asks civetweb for it (option "tcp_nodelay"). Without it,
 * replies on keep-alive connections stall ~40 ms (header and body are two writes: Nagle meets
 * the client's delayed ACK). Never used outside bench/server/run.sh. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
int accept(int fd, struct sockaddr *a, socklen_t *l) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = dlsym(RTLD_NEXT, "accept");
    int s = real(fd, a, l); int one = 1;
    if (s >= 0) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}
int accept4(int fd, struct sockaddr *a, socklen_t *l, int fl) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = dlsym(RTLD_NEXT, "accept4");
    int s = real(fd, a, l, fl); int one = 1;
    if (s >= 0) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}
