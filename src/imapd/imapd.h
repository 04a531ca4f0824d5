#ifndef CORREIO_IMAPD_H
#define CORREIO_IMAPD_H
/*
 * imapd: IMAP sessions (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1) on the
 * imap (STARTTLS) and imaps listeners, over the mail store.
 */
#include <event2/util.h>
#include <stdint.h>

#include "lib/config.h"

struct services;

void imapd_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port);

#endif
