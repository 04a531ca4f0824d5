/*
 * cmd_catenate.c - CATENATE (RFC 4469): an APPEND message made of TEXT
 * literals and URL parts, each URL naming a message of the user's own
 * mailboxes, or a section or a partial range of one
 * (lib-imap/imap_url.c).  Called by cmd_append.c with the message being
 * written; writes the parts in order.
 *
 *   append-data = literal / literal8 / "CATENATE" SP "(" cat-part
 *                 *(SP cat-part) ")"
 *   cat-part    = "TEXT" SP literal / "URL" SP astring
 *
 * TEXT literals are collected by the command reader (its max_collect
 * bounds them: XXX larger ones are refused, not streamed).  A URL's
 * message is read whole (at most the server's message_size).
 */
#include "imapd_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib-imap/imap_url.h"
#include "lib/util.h"
#include "mime/mime.h"

/* The section and range of the message file[0..n) that u names, in the
   file's form, into out.  1, or 0 with a reason in text. */
static int section_data(const char *file, size_t n, const struct imap_url *u, struct buf *out,
			char *text, size_t size)
{
	struct mime_message *msg = NULL;
	struct mime_section sec = { .start = 0, .end = n };
	struct buf crlf;
	uint64_t off, len;
	int ret = 1;

	if (u->section[0] != '\0') {
		msg = mime_message_parse(file, n, NULL);
		if (mime_section_resolve(msg, u->section, strlen(u->section), &sec) <= 0 ||
		    sec.kind == MIME_SECTION_HEADER_FIELDS ||
		    sec.kind == MIME_SECTION_HEADER_FIELDS_NOT) {
			snprintf(text, size, "no such section");
			mime_message_free(&msg);
			return 0;
		}
	}
	if (!u->partial) {
		buf_append(out, file + sec.start, sec.end - sec.start);
		mime_message_free(&msg);
		return 1;
	}
	/* PARTIAL counts octets of the CRLF form, as FETCH's <partial> */
	buf_init(&crlf, 0);
	mime_crlf_append(&crlf, file + sec.start, sec.end - sec.start);
	off = u->partial_offset < crlf.len ? u->partial_offset : crlf.len;
	len = crlf.len - off;
	if (u->partial_length != 0 && u->partial_length < len)
		len = u->partial_length;
	buf_append(out, crlf.data + off, (size_t)len);
	buf_deinit(&crlf);
	mime_message_free(&msg);
	return ret;
}

/* The bytes url names (LF line ends, as stored) into out.  1, or 0 with
   a reason in text. */
static int url_data(struct imapd_session *s, const struct imap_url *u, struct buf *out,
		    char *text, size_t size)
{
	struct store_mailbox *box = NULL;
	struct store_status st;
	struct store_error err;
	struct store_msg m;
	char *file = NULL;
	size_t cap = 0;
	int fd = -1, ret = 0;

	if (s->box != NULL && strcmp(store_mailbox_name(s->box), u->mailbox) == 0)
		box = s->box;
	else if (store_mailbox_open(s->account, u->mailbox, NULL, NULL, &box, &err) < 0)
		box = NULL;
	if (box == NULL) {
		snprintf(text, size, "no such mailbox");
		return 0;
	}
	store_mailbox_status(box, &st);
	if (u->uidvalidity != 0 && u->uidvalidity != st.uidvalidity)
		snprintf(text, size, "UIDVALIDITY differs");
	else if (store_mailbox_open_msg(box, u->uid, &fd, &m, &err) <= 0)
		snprintf(text, size, "no such message");
	else if (read_file_at_start(fd, (size_t)m.size, &file, &cap) != (ssize_t)m.size)
		snprintf(text, size, "the message could not be read");
	else
		ret = section_data(file, (size_t)m.size, u, out, text, size);
	if (fd >= 0)
		close(fd);
	if (box != s->box)
		store_mailbox_close(&box);
	free(file);
	return ret;
}

int imapd_catenate(struct imapd_session *s, struct imapd_append_msg *m,
		   const struct imap_arg *parts, size_t count, char *text, size_t size)
{
	struct store_error err;
	struct imap_url u;
	struct buf data;
	const char *p, *error;
	size_t len;
	int ret = 1;

	if (count == 0 || count % 2 != 0) {
		snprintf(text, size, "CATENATE takes TEXT literal and URL url pairs");
		return -1;
	}
	buf_init(&data, 0);
	for (size_t i = 0; i < count && ret > 0; i += 2) {
		buf_reset(&data);
		if (imap_arg_atom_equals(&parts[i], "TEXT") &&
		    parts[i + 1].type == IMAP_ARG_LITERAL &&
		    imap_arg_get_string(&parts[i + 1], &p, &len)) {
			buf_append(&data, p, len);
		} else if (imap_arg_atom_equals(&parts[i], "URL") &&
			   imap_arg_get_astring(&parts[i + 1], &p)) {
			if (imap_url_parse(p, &u, &error) < 0) {
				snprintf(text, size, "[BADURL \"%.200s\"] %s", p, error);
				ret = 0;
			} else if (url_data(s, &u, &data, text, size) == 0) {
				char reason[100];
				str_copy(reason, text, sizeof(reason));
				snprintf(text, size, "[BADURL \"%.200s\"] %s", p, reason);
				ret = 0;
			}
		} else {
			snprintf(text, size, "CATENATE takes TEXT literal and URL url pairs");
			ret = -1;
		}
		if (ret > 0 && data.len > 0 && imapd_append_put(m, data.data, data.len, &err) < 0) {
			snprintf(text, size, "[SERVERBUG] the message could not be stored");
			ret = 0;
		}
	}
	buf_deinit(&data);
	return ret;
}
