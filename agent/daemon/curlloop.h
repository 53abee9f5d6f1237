/* A libcurl multi handle driven from the daemon's inner loop: its sockets and its timer are loop
 * sources (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), so no transfer ever blocks the loop.
 * http.c runs the control calls on one; mapstream.c connects its stream on another, so that a
 * connection held for hours never sits in the pool the calls share (curl would prune it there
 * as idle, or as "dead" when the server's next frame is already waiting). */
#ifndef ZTNA_AGENT_DAEMON_CURLLOOP_H
#define ZTNA_AGENT_DAEMON_CURLLOOP_H

#include <curl/curl.h>

struct agent;
struct curlloop;

/* A transfer finished with result. easy is still in the multi: the callback removes it
 * (curl_multi_remove_handle) or leaves it for later; it must not free the curlloop. */
typedef void (*curlloop_done_fn)(struct agent *a, CURL *easy, CURLcode result);

/* A new curlloop (free with curlloop_free()) in a's loop, which must outlive it. 0 or -errno. */
int curlloop_new(struct agent *a, curlloop_done_fn done, struct curlloop **out);
/* Cleans up the multi (the caller removed its easy handles first); accepts NULL. */
void curlloop_free(struct agent *a, struct curlloop *cl);
/* The multi handle (borrowed, valid until curlloop_free()). */
CURLM *curlloop_multi(const struct curlloop *cl);

#endif
