#ifndef CORREIO_JMAP_H
#define CORREIO_JMAP_H
/*
 * jmap: the HTTP(S) listener of `correio serve` and the JMAP API on it
 * (RFC 8620 core, RFC 8621 mail) over the shared store, so a change made
 * by IMAP, POP3 or a delivery shows in JMAP and the other way round.
 *
 * [listen] http and https (both empty by default) are bound by libevent's
 * evhttp; https uses the server's certificates (src/tls).  Connections
 * count against [limits] connections like every other protocol's, from
 * their first request on.  Logins are HTTP Basic, checked on the auth
 * thread pool with the same throttling as IMAP and POP3; plaintext
 * (http) only where conn_plaintext_ok() allows.  Loop thread only.
 */
struct services;
struct jmap;

/* Bind the listeners (before privileges are dropped).  Returns 1 with *r
   (also when no listener is configured), or -1 with *error_r. */
int jmap_bind(struct services *srv, struct jmap **r, const char **error_r);
/* Stop accepting (the server is stopping); open connections are closed
   through their struct conn. */
void jmap_unbind(struct jmap *j);
/* Free everything; every connection must be gone. */
void jmap_free(struct jmap **j);

#endif
