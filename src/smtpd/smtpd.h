#ifndef CORREIO_SMTPD_H
#define CORREIO_SMTPD_H
/*
 * smtpd: SMTP server sessions (RFC 5321) on the smtp listener: the command
 * dialogue, DATA and BDAT reception into the queue, relay policy.
 */
#include <event2/util.h>
#include <stdint.h>

#include "lib/config.h"

struct services;

/* Take over an accepted socket: greet and serve it. */
void smtpd_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port);

#endif
