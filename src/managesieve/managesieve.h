#ifndef CORREIO_MANAGESIEVE_H
#define CORREIO_MANAGESIEVE_H
/*
 * managesieve: the ManageSieve protocol (RFC 5804) on the managesieve
 * listener: users put, check, list, activate, rename and delete the Sieve
 * scripts that local delivery runs (the store of src/sieve).  STARTTLS,
 * SASL PLAIN through the auth thread pool and its throttle, plaintext
 * only under TLS or on loopback per [auth] plaintext_on_loopback.
 *
 * The command parser (ms_parse) is a pure state machine: bytes in, events
 * out, with every string bounded; a literal's announced size is checked
 * against the cap when its header is read, before any of its octets.
 */
#include <event2/util.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/config.h"

#define MS_MAX_ARGS	5	/* command name and up to four arguments */
#define MS_TOKEN_MAX	8192	/* an atom or a quoted string */

enum ms_arg_kind { MS_ATOM, MS_STRING };

struct ms_arg {
	enum ms_arg_kind kind;
	size_t off, len;	/* in the parser's data, NUL-terminated there */
};

enum ms_event {
	MS_MORE,	/* all input consumed, no event */
	MS_COMMAND,	/* a whole command: ms_arg_text() for its arguments */
	MS_ERROR,	/* a syntax error: the rest of the line is skipped */
	MS_TOO_BIG,	/* a literal over the cap: its octets will be skipped */
};

struct ms_parser {
	int state;
	size_t literal_max;
	struct buf data;		/* the arguments' text */
	struct ms_arg args[MS_MAX_ARGS];
	unsigned n_args;
	bool complete;			/* MS_COMMAND given: clear at the next call */
	uint64_t number;		/* literal header being read */
	unsigned digits;
	uint64_t skip;			/* literal octets left to copy or skip */
	/* while skipping a bad line: a literal header at its end */
	int skip_brace;
	uint64_t skip_number;
	const char *error;		/* MS_ERROR, MS_TOO_BIG: why */
};

void ms_parser_init(struct ms_parser *p, size_t literal_max);
void ms_parser_deinit(struct ms_parser *p);
/* Consume in[0..len) up to the next event; returns the bytes consumed and
   the event in *ev.  After MS_COMMAND the arguments stay until the next
   call. */
size_t ms_parse(struct ms_parser *p, const char *in, size_t len, enum ms_event *ev);
const char *ms_arg_text(const struct ms_parser *p, unsigned i, size_t *len_r);

struct services;

void managesieve_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
			const char *addr, uint16_t port);

#endif
