/*
 * milter.c - framing and decoding of a mail filter's replies, encoding of
 * the MTA's commands (milter protocol version 6).
 */
#include "milter.h"

#include <arpa/inet.h>
#include <string.h>

void milter_reader_init(struct milter_reader *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->data, MILTER_PACKET_MAX);
}

void milter_reader_deinit(struct milter_reader *r)
{
	buf_deinit(&r->data);
}

static uint32_t get32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* The NUL-terminated string at *p within [*p, end): advance past it. */
static const char *take_string(const char **p, const char *end)
{
	const char *s = *p, *nul = memchr(s, '\0', (size_t)(end - s));

	if (nul == NULL)
		return NULL;
	*p = nul + 1;
	return s;
}

static int decode(char cmd, const char *d, size_t len, struct milter_reply *rp,
		  const char **error_r)
{
	const char *p = d, *end = d + len;

	memset(rp, 0, sizeof(*rp));
	rp->cmd = cmd;
	switch (cmd) {
	case 'O':
		if (len < 12) {
			*error_r = "short option negotiation";
			return -1;
		}
		rp->kind = MILTER_R_OPTNEG;
		rp->version = get32(d);
		rp->actions = get32(d + 4);
		rp->protocol = get32(d + 8);
		return 1;
	case 'c': rp->kind = MILTER_R_CONTINUE; return 1;
	case 'a': rp->kind = MILTER_R_ACCEPT; return 1;
	case 'r': rp->kind = MILTER_R_REJECT; return 1;
	case 't': rp->kind = MILTER_R_TEMPFAIL; return 1;
	case 'd': rp->kind = MILTER_R_DISCARD; return 1;
	case 'p': rp->kind = MILTER_R_PROGRESS; return 1;
	case 's': rp->kind = MILTER_R_SKIP; return 1;
	case 'y':
	case 'q':
		rp->kind = cmd == 'y' ? MILTER_R_REPLYCODE : MILTER_R_QUARANTINE;
		rp->text = take_string(&p, end);
		if (rp->text == NULL) {
			*error_r = "unterminated reply text";
			return -1;
		}
		if (cmd == 'y' && (strlen(rp->text) < 3 || (rp->text[0] != '4' && rp->text[0] != '5') ||
				   rp->text[1] < '0' || rp->text[1] > '9' ||
				   rp->text[2] < '0' || rp->text[2] > '9' ||
				   (rp->text[3] != '\0' && rp->text[3] != ' ' && rp->text[3] != '-'))) {
			*error_r = "reply code is not 4xx or 5xx";
			return -1;
		}
		return 1;
	case 'h':
	case 'i':
	case 'm':
		rp->kind = cmd == 'h' ? MILTER_R_ADDHEADER : cmd == 'i' ? MILTER_R_INSHEADER :
			   MILTER_R_CHGHEADER;
		if (cmd != 'h') {
			if (len < 4) {
				*error_r = "short header change";
				return -1;
			}
			rp->index = get32(d);
			p += 4;
		}
		rp->name = take_string(&p, end);
		rp->value = rp->name != NULL ? take_string(&p, end) : NULL;
		if (rp->value == NULL || rp->name[0] == '\0' ||
		    strpbrk(rp->name, ": \t\r\n") != NULL) {
			*error_r = "bad header in header change";
			return -1;
		}
		return 1;
	case 'b':
		rp->kind = MILTER_R_REPLBODY;
		rp->data = d;
		rp->len = len;
		return 1;
	case '+': case '-': case 'e': case '2':
		rp->kind = MILTER_R_OTHER;
		return 1;
	default:
		*error_r = "unknown reply";
		return -1;
	}
}

int milter_read(struct milter_reader *r, const void *p, size_t n, size_t *used,
		struct milter_reply *reply, const char **error_r)
{
	const char *in = p;
	size_t i = 0, want;
	bool fresh;

	if (r->have_head == sizeof(r->head) && r->data.len == r->len) {
		/* the previous packet was handed out: start the next */
		r->have_head = 0;
		buf_reset(&r->data);
	}
	fresh = r->have_head < sizeof(r->head);
	while (r->have_head < sizeof(r->head) && i < n)
		r->head[r->have_head++] = (unsigned char)in[i++];
	if (r->have_head < sizeof(r->head)) {
		*used = i;
		return 0;
	}
	if (fresh) {
		uint32_t total = get32((const char *)r->head);
		if (total == 0 || total - 1 > MILTER_PACKET_MAX) {
			*error_r = total == 0 ? "empty packet" : "packet too long";
			*used = i;
			return -1;
		}
		r->len = total - 1;
	}
	want = r->len - r->data.len;
	if (want > n - i)
		want = n - i;
	if (want > 0 && buf_append(&r->data, in + i, want) < 0) {
		*error_r = "packet too long";
		*used = i;
		return -1;
	}
	i += want;
	*used = i;
	if (r->data.len < r->len)
		return 0;
	return decode((char)r->head[4], r->data.data != NULL ? r->data.data : "", r->len,
		      reply, error_r) < 0 ? -1 : 1;
}

void milter_put(struct buf *out, char cmd, const void *data, size_t len)
{
	uint32_t total = htonl((uint32_t)len + 1);

	buf_append(out, &total, 4);
	buf_putc(out, cmd);
	if (len > 0)
		buf_append(out, data, len);
}

void milter_put_optneg(struct buf *out, uint32_t actions, uint32_t protocol)
{
	uint32_t v[3] = { htonl(MILTER_VERSION), htonl(actions), htonl(protocol) };

	milter_put(out, MILTER_CMD_OPTNEG, v, sizeof(v));
}

void milter_put_strings(struct buf *out, char cmd, const char *const *items, size_t n)
{
	struct buf d;

	buf_init(&d, 0);
	for (size_t i = 0; i < n; i++)
		buf_append(&d, items[i], strlen(items[i]) + 1);
	milter_put(out, cmd, d.data, d.len);
	buf_deinit(&d);
}

void milter_put_connect(struct buf *out, const char *host, const char *addr, uint16_t port)
{
	struct buf d;
	uint16_t nport = htons(port);
	bool v6 = strchr(addr, ':') != NULL;

	buf_init(&d, 0);
	buf_append(&d, host, strlen(host) + 1);
	buf_putc(&d, v6 ? '6' : '4');
	buf_append(&d, &nport, 2);
	buf_append(&d, addr, strlen(addr) + 1);
	milter_put(out, MILTER_CMD_CONNECT, d.data, d.len);
	buf_deinit(&d);
}

void milter_put_macros(struct buf *out, char cmd, const char *const *pairs, size_t n)
{
	struct buf d;

	buf_init(&d, 0);
	buf_putc(&d, cmd);
	for (size_t i = 0; i < n; i++)
		buf_append(&d, pairs[i], strlen(pairs[i]) + 1);
	milter_put(out, MILTER_CMD_MACRO, d.data, d.len);
	buf_deinit(&d);
}
