#ifndef CORREIO_SERVER_H
#define CORREIO_SERVER_H
/*
 * server: the composition root of `correio serve`.  It binds the
 * listeners, leaves root, opens the queue, the delivery agent, the relay
 * and the account store, wires them into the services the protocols see
 * (conn/services.h), hands each accepted connection to its protocol, and
 * answers signals: SIGTERM stops it gracefully, SIGHUP reloads the
 * configuration.  Nothing outside src/server and src/cli includes it.
 */
#include "lib/config.h"

/* Run the server until it stops.  Returns the exit status. */
int server_run(const struct config *cfg);

#endif
