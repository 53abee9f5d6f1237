/* The library that answers civetweb's dlopen("libssl.so"): it carries that SONAME, depends on the
 * real libssl, and http.c dlopen()s it before starting civetweb, so civetweb's dlopen() finds it
 * already loaded and resolves every SSL_* function it uses with dlsym() on this library's handle.
 * That lookup finds the definitions here first and the rest in libssl. It supplies two things:
 *
 * 1. SSL_get_peer_certificate, which Debian 12's civetweb 1.15 looks up without checking the
 *    result and calls on the first TLS connection, and which OpenSSL 3 no longer exports (it
 *    became a macro for SSL_get1_peer_certificate).
 *
 * 2. One lock per SSL object around every call that reads or writes the connection (SSL_read,
 *    SSL_write, SSL_pending, SSL_shutdown). OpenSSL forbids two calls at once on one SSL object,
 *    and civetweb makes them: a WebSocket's worker thread waits in pull_inner() and calls
 *    SSL_read for each incoming frame, while another thread may write frames on the same
 *    connection with mg_websocket_write() (the dashboard hub's sender thread, server/realtime.c).
 *    mg_lock_connection() in mg_websocket_write() keeps writers apart, never a writer and the
 *    reader. civetweb's accepted sockets are non-blocking and it polls outside these calls (an
 *    incomplete record or a full send buffer returns WANT_READ / WANT_WRITE, and civetweb polls
 *    and calls again), so the lock is held for the work on bytes already there, never across a
 *    wait for the network.
 *
 *    SSL_get_error(ssl, ret) reads state that another thread's next call on the same object
 *    overwrites, so each locked call that fails computes its error under the lock and keeps it
 *    for the calling thread; SSL_get_error with the same (ssl, ret) on that thread returns it.
 *
 * The locks are a fixed table indexed by a hash of the SSL pointer: nothing to allocate or free
 * with the connection; two connections that share a slot only take turns for the length of a
 * call. http.c checks ztna_tls_shim_ready() after loading the shim. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate /* OpenSSL 3 maps the old name onto SSL_get1_peer_certificate */

#define SHIM_LOCK_BITS 10 /* 1024 locks */

X509 *SSL_get_peer_certificate(const SSL *s);
int ztna_tls_shim_ready(void);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s); /* the 1.1 function also returned a new reference */
}

/* libssl's own definitions (ours have the same names); set once, by shim_init(). */
static struct {
    int (*read)(SSL *, void *, int);
    int (*write)(SSL *, const void *, int);
    int (*pending)(const SSL *);
    int (*shutdown)(SSL *);
    int (*get_error)(const SSL *, int);
} real;
static pthread_mutex_t locks[1u << SHIM_LOCK_BITS];
static int ready = -ENOENT; /* 0 once real and locks are set */

/* The error of this thread's last failed locked call, for SSL_get_error(). */
static _Thread_local struct {
    const SSL *ssl;
    int ret, err;
} last;

__attribute__((constructor)) static void shim_init(void)
{
    Dl_info info, self, found;
    void *ssl;

    /* The library that defines SSL_CTX_new (which we do not) is the real libssl. */
    if (!dladdr((void *)SSL_CTX_new, &info) || !info.dli_fname)
        return;
    ssl = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!ssl)
        return;
    real.read = (int (*)(SSL *, void *, int))dlsym(ssl, "SSL_read");
    real.write = (int (*)(SSL *, const void *, int))dlsym(ssl, "SSL_write");
    real.pending = (int (*)(const SSL *))dlsym(ssl, "SSL_pending");
    real.shutdown = (int (*)(SSL *))dlsym(ssl, "SSL_shutdown");
    real.get_error = (int (*)(const SSL *, int))dlsym(ssl, "SSL_get_error");
    dlclose(ssl); /* RTLD_NOLOAD took a reference; libssl stays, as our dependency */
    /* All found, and in libssl: not ours again (which would call itself forever). */
    if (!real.read || !real.write || !real.pending || !real.shutdown || !real.get_error ||
        !dladdr((void *)shim_init, &self) || !dladdr((void *)real.read, &found) ||
        found.dli_fbase == self.dli_fbase)
        return;
    for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
        pthread_mutex_init(&locks[i], NULL);
    ready = 0;
}

/* 0 when the shim found libssl's functions (otherwise every TLS call here would crash). */
int ztna_tls_shim_ready(void)
{
    return ready;
}

static pthread_mutex_t *lock_of(const SSL *ssl)
{
    return &locks[((uint64_t)(uintptr_t)ssl * 0x9e3779b97f4a7c15ull) >> (64 - SHIM_LOCK_BITS)];
}

/* Lock held: keeps the error of a failed call for this thread's SSL_get_error(). */
static void remember(const SSL *ssl, int ret)
{
    last.ssl = ret <= 0 ? ssl : NULL;
    last.ret = ret;
    if (ret <= 0)
        last.err = real.get_error(ssl, ret);
}

/* Unlocks without losing the errno of the call (civetweb reads it after SSL_ERROR_SYSCALL). */
static void unlock(pthread_mutex_t *m)
{
    int saved = errno;

    pthread_mutex_unlock(m);
    errno = saved;
}

/* One SSL_read (reading: into in) or SSL_write (from out) under the object's lock. */
static int locked_io(SSL *ssl, bool reading, void *in, const void *out, int num)
{
    pthread_mutex_t *m = lock_of(ssl);
    int ret;

    pthread_mutex_lock(m);
    ret = reading ? real.read(ssl, in, num) : real.write(ssl, out, num);
    remember(ssl, ret);
    unlock(m);
    return ret;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
    return locked_io(ssl, true, buf, NULL, num);
}

int SSL_write(SSL *ssl, const void *buf, int num)
{
    return locked_io(ssl, false, NULL, buf, num);
}

int SSL_pending(const SSL *ssl)
{
    pthread_mutex_t *m = lock_of(ssl);
    int ret;

    pthread_mutex_lock(m);
    ret = real.pending(ssl);
    unlock(m);
    return ret;
}

int SSL_shutdown(SSL *ssl)
{
    pthread_mutex_t *m = lock_of(ssl);
    int ret;

    pthread_mutex_lock(m);
    ret = real.shutdown(ssl);
    last.ssl = NULL; /* civetweb ignores the result: keep nothing that a later call could match */
    unlock(m);
    return ret;
}

int SSL_get_error(const SSL *ssl, int ret)
{
    pthread_mutex_t *m;
    int err;

    if (last.ssl == ssl && last.ret == ret) {
        last.ssl = NULL;
        return last.err;
    }
    m = lock_of(ssl);
    pthread_mutex_lock(m);
    err = real.get_error(ssl, ret);
    unlock(m);
    return err;
}
