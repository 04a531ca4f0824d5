#ifndef CORREIO_MILTER_H
#define CORREIO_MILTER_H
/*
 * milter: the Sendmail/Postfix mail filter protocol, version 6, as the MTA
 * speaks it: packets of a 32-bit length (network order, counting the
 * command byte), a command byte and its data.  This is the pure part:
 * framing the filter's byte stream into packets, decoding each reply,
 * and encoding the MTA's commands.  No I/O (smtpd_milter.c does that).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define MILTER_VERSION 6
#define MILTER_PACKET_MAX (1024 * 1024)	/* a reply longer than this is an error */
#define MILTER_CHUNK_MAX 65535		/* body chunk sent to a filter */

/* commands, MTA to filter */
#define MILTER_CMD_ABORT 'A'
#define MILTER_CMD_BODY 'B'
#define MILTER_CMD_CONNECT 'C'
#define MILTER_CMD_MACRO 'D'
#define MILTER_CMD_BODYEOB 'E'
#define MILTER_CMD_HELO 'H'
#define MILTER_CMD_HEADER 'L'
#define MILTER_CMD_MAIL 'M'
#define MILTER_CMD_EOH 'N'
#define MILTER_CMD_OPTNEG 'O'
#define MILTER_CMD_QUIT 'Q'
#define MILTER_CMD_RCPT 'R'
#define MILTER_CMD_DATA 'T'

/* protocol flags (SMFIP_*): what the filter does not want to see or answer */
#define MILTER_P_NOCONNECT 0x1
#define MILTER_P_NOHELO 0x2
#define MILTER_P_NOMAIL 0x4
#define MILTER_P_NORCPT 0x8
#define MILTER_P_NOBODY 0x10
#define MILTER_P_NOHDRS 0x20
#define MILTER_P_NOEOH 0x40
#define MILTER_P_NR_HDR 0x80
#define MILTER_P_NOUNKNOWN 0x100
#define MILTER_P_NODATA 0x200
#define MILTER_P_SKIP 0x400
#define MILTER_P_RCPT_REJ 0x800
#define MILTER_P_NR_CONN 0x1000
#define MILTER_P_NR_HELO 0x2000
#define MILTER_P_NR_MAIL 0x4000
#define MILTER_P_NR_RCPT 0x8000
#define MILTER_P_NR_DATA 0x10000
#define MILTER_P_NR_UNKN 0x20000
#define MILTER_P_NR_EOH 0x40000
#define MILTER_P_NR_BODY 0x80000
/* what correio can honour */
#define MILTER_P_OFFERED 0xFF7FF

/* actions (SMFIF_*) the filter may take at end of message */
#define MILTER_A_ADDHDRS 0x1
#define MILTER_A_CHGBODY 0x2
#define MILTER_A_CHGHDRS 0x10
#define MILTER_A_QUARANTINE 0x20
#define MILTER_A_OFFERED (MILTER_A_ADDHDRS | MILTER_A_CHGBODY | MILTER_A_CHGHDRS | \
			  MILTER_A_QUARANTINE)

enum milter_reply_kind {
	MILTER_R_OPTNEG,	/* version, actions, protocol */
	MILTER_R_CONTINUE,
	MILTER_R_ACCEPT,
	MILTER_R_REJECT,
	MILTER_R_TEMPFAIL,
	MILTER_R_DISCARD,
	MILTER_R_REPLYCODE,	/* text: "554 5.7.1 why" */
	MILTER_R_PROGRESS,
	MILTER_R_SKIP,
	MILTER_R_ADDHEADER,	/* name, value */
	MILTER_R_INSHEADER,	/* index, name, value */
	MILTER_R_CHGHEADER,	/* index (1-based among that name), name, value ("" deletes) */
	MILTER_R_REPLBODY,	/* data, len */
	MILTER_R_QUARANTINE,	/* text: the reason */
	MILTER_R_OTHER,		/* a modification correio does not take (envelope) */
};

/* The framing state of the filter's stream. */
struct milter_reader {
	unsigned char head[5];	/* length and command */
	size_t have_head;
	uint32_t len;		/* data bytes of the packet being read */
	struct buf data;
};

struct milter_reply {
	enum milter_reply_kind kind;
	char cmd;
	uint32_t version, actions, protocol;	/* OPTNEG */
	uint32_t index;				/* INSHEADER, CHGHEADER */
	const char *name, *value, *text;	/* point into the reader's data */
	const char *data;			/* REPLBODY */
	size_t len;
};

void milter_reader_init(struct milter_reader *r);
void milter_reader_deinit(struct milter_reader *r);
/*
 * Take bytes of the stream.  Returns 1 when a packet is complete (decoded
 * into *reply, valid until the next call; *used bytes were taken), 0 when
 * all n bytes were taken and more are needed, -1 on a malformed stream or
 * packet (with *error_r).
 */
int milter_read(struct milter_reader *r, const void *p, size_t n, size_t *used,
		struct milter_reply *reply, const char **error_r);

/* Encoders: append one command packet to out. */
void milter_put(struct buf *out, char cmd, const void *data, size_t len);
void milter_put_optneg(struct buf *out, uint32_t actions, uint32_t protocol);
/* "text\0" items, count of them, as one packet (HELO, MAIL, RCPT, HEADER) */
void milter_put_strings(struct buf *out, char cmd, const char *const *items, size_t n);
/* CONNECT: host name, address (IPv4 or IPv6 text) and port */
void milter_put_connect(struct buf *out, const char *host, const char *addr, uint16_t port);
/* MACRO for the command cmd: name/value pairs */
void milter_put_macros(struct buf *out, char cmd, const char *const *pairs, size_t n);

#endif
