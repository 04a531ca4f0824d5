#ifndef CORREIO_POP3D_H
#define CORREIO_POP3D_H
/*
 * pop3d: POP3 sessions (RFC 1939, with RFC 2449 CAPA and RESP-CODES,
 * RFC 2595 STLS, RFC 5034 SASL) on the pop3 and pop3s listeners.  The
 * maildrop is the account's INBOX in the mail store.
 */
#include <event2/util.h>
#include <stdint.h>

#include "lib/config.h"

struct services;

void pop3d_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port);

#endif
