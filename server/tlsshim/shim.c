/* Debian 12's civetweb 1.15 dlopen()s "libssl.so" and looks up SSL_get_peer_certificate, which
 * OpenSSL 3 no longer exports (it became a macro for SSL_get1_peer_certificate). civetweb does
 * not check the lookup and calls a NULL pointer on the first TLS connection. This tiny library
 * carries the SONAME "libssl.so", depends on the real libssl, and supplies the missing symbol;
 * http.c dlopen()s it before starting civetweb, so civetweb's dlopen("libssl.so") finds it
 * already loaded and resolves every other symbol through its libssl dependency. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate /* OpenSSL 3 maps the old name onto SSL_get1_peer_certificate */

X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s); /* the 1.1 function also returned a new reference */
}
