/*
 * client_compose.c - writing a message: header fields (RFC 5322, RFC 2047
 * encoded words for non-ASCII text), a text body (quoted-printable when it
 * is not ASCII), attachments as base64 parts of a multipart/mixed with
 * RFC 2231 file names and a content type from libmagic; the envelope
 * recipients; and the $EDITOR round trip.
 */
#include "client/client_private.h"

#include <errno.h>
#include <magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "mime/mime.h"
#include "lib/encoding.h"
#include "lib/util.h"

#define ATTACH_MAX (256u << 20)

void client_draft_init(struct client_draft *d)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->to, 0);
	buf_init(&d->cc, 0);
	buf_init(&d->bcc, 0);
	buf_init(&d->references, 0);
	buf_init(&d->body, 0);
}

void client_draft_deinit(struct client_draft *d)
{
	buf_deinit(&d->to);
	buf_deinit(&d->cc);
	buf_deinit(&d->bcc);
	buf_deinit(&d->references);
	buf_deinit(&d->body);
	for (size_t i = 0; i < d->nfiles; i++)
		buf_deinit(&d->files[i].data);
	free(d->files);
	d->files = NULL;
	d->nfiles = 0;
}

static const struct { const char *ext; const char *type; } ext_types[] = {
	{ "txt", "text/plain" }, { "html", "text/html" }, { "pdf", "application/pdf" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "zip", "application/zip" }, { "csv", "text/csv" },
};

static void detect_type(const char *name, const char *data, size_t len,
			char *out, size_t size)
{
	magic_t m = magic_open(MAGIC_MIME_TYPE);
	const char *t = NULL;

	if (m != NULL && magic_load(m, NULL) == 0)
		t = magic_buffer(m, data, len);
	if (t != NULL && strchr(t, '/') != NULL && strcmp(t, "application/x-empty") != 0) {
		str_copy(out, t, size);
		magic_close(m);
		return;
	}
	if (m != NULL)
		magic_close(m);
	str_copy(out, "application/octet-stream", size);
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot != NULL && i < sizeof(ext_types) / sizeof(ext_types[0]); i++)
		if (strcasecmp(dot + 1, ext_types[i].ext) == 0)
			str_copy(out, ext_types[i].type, size);
}

void client_draft_attach(struct client_draft *d, const char *name,
			 const char *type, const char *data, size_t len)
{
	struct client_file *f;

	d->files = xrealloc(d->files, (d->nfiles + 1) * sizeof(*d->files));
	f = &d->files[d->nfiles++];
	memset(f, 0, sizeof(*f));
	str_copy(f->name, name, sizeof(f->name));
	buf_init(&f->data, 0);
	buf_append(&f->data, data, len);
	if (type != NULL && type[0] != '\0')
		str_copy(f->type, type, sizeof(f->type));
	else
		detect_type(name, data, len, f->type, sizeof(f->type));
}

int client_draft_attach_file(struct client_draft *d, const char *path)
{
	struct buf data;
	const char *base = strrchr(path, '/');
	int ret;

	buf_init(&data, 0);
	ret = client_read_file(path, ATTACH_MAX, &data);
	if (ret == 0)
		client_fail(CLIENT_ERR_OTHER, "%s: no such file", path);
	if (ret <= 0) {
		buf_deinit(&data);
		return -1;
	}
	client_draft_attach(d, base != NULL ? base + 1 : path, NULL,
			    data.data != NULL ? data.data : "", data.len);
	buf_deinit(&data);
	return 1;
}

static bool is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* RFC 2047 B words of at most 45 bytes of text each, cut at UTF-8
   character boundaries, joined by a folding line break. */
static void encode_words(struct buf *out, const char *s, size_t n)
{
	size_t pos = 0;

	while (pos < n) {
		size_t k = 0;
		while (pos + k < n) {
			size_t c = utf8_sequence((const unsigned char *)s + pos + k, n - pos - k);
			if (c == 0)
				c = 1;
			if (k + c > 45)
				break;
			k += c;
		}
		if (pos > 0)
			buf_puts(out, "\n ");
		buf_puts(out, "=?UTF-8?B?");
		base64_encode(s + pos, k, out);
		buf_puts(out, "?=");
		pos += k;
	}
}

static void header_text(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s: ", name);
	if (is_ascii(value, strlen(value)))
		buf_puts(out, value);
	else
		encode_words(out, value, strlen(value));
	buf_putc(out, '\n');
}

/* Length of the address list item at p: up to a comma outside quotes
   and angle brackets. */
static size_t list_item(const char *p)
{
	bool quoted = false;
	int angle = 0;
	size_t n = 0;

	for (; p[n] != '\0'; n++) {
		if (p[n] == '"' && angle == 0)
			quoted = !quoted;
		else if (p[n] == '<' && !quoted)
			angle++;
		else if (p[n] == '>' && !quoted && angle > 0)
			angle--;
		else if (p[n] == ',' && !quoted && angle == 0)
			break;
	}
	return n;
}

/* An address list: ASCII as written; else each item's non-ASCII display
   name as encoded words, the address kept. */
static void header_addresses(struct buf *out, const char *name, const char *list)
{
	const char *p = list;

	buf_printf(out, "%s: ", name);
	if (is_ascii(list, strlen(list))) {
		buf_printf(out, "%s\n", list);
		return;
	}
	while (*p != '\0') {
		size_t n;
		while (*p == ' ')
			p++;
		n = list_item(p);
		const char *lt = memchr(p, '<', n);
		if (lt != NULL && !is_ascii(p, (size_t)(lt - p))) {
			const char *q = p[0] == '"' ? p + 1 : p;
			size_t k = (size_t)(lt - q);
			while (k > 0 && (q[k - 1] == ' ' || q[k - 1] == '"'))
				k--;
			encode_words(out, q, k);
			buf_putc(out, ' ');
			buf_append(out, lt, n - (size_t)(lt - p));
		} else {
			buf_append(out, p, n);
		}
		p += n;
		if (*p == ',') {
			p++;
			buf_puts(out, ",\n ");
		}
	}
	buf_putc(out, '\n');
}

/* RFC 2231: name*=UTF-8''percent-encoded */
static void param_2231(struct buf *out, const char *param, const char *value)
{
	buf_printf(out, "%s*=UTF-8''", param);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p) != NULL)
			buf_putc(out, (char)*p);
		else
			hex_escape(*p, '%', out);
	}
}

static void param_quoted(struct buf *out, const char *param, const char *value)
{
	buf_printf(out, "%s=\"", param);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		if ((unsigned char)*p >= 0x20)
			buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

static void base64_lines(struct buf *out, const char *data, size_t len)
{
	for (size_t pos = 0; pos < len; pos += 57) {
		size_t k = len - pos < 57 ? len - pos : 57;
		base64_encode(data + pos, k, out);
		buf_putc(out, '\n');
	}
}

static void text_part(struct buf *out, const struct client_draft *d)
{
	const char *body = d->body.data != NULL ? d->body.data : "";
	size_t len = d->body.len;
	bool long_lines = false;

	for (const char *p = body, *nl; p < body + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(body + len - p));
		if (nl == NULL)
			nl = body + len;
		if (nl - p > 900)
			long_lines = true;
	}
	buf_puts(out, "Content-Type: text/plain; charset=utf-8\n");
	if (is_ascii(body, len) && !long_lines) {
		buf_puts(out, "Content-Transfer-Encoding: 7bit\n\n");
		buf_append(out, body, len);
	} else {
		buf_puts(out, "Content-Transfer-Encoding: quoted-printable\n\n");
		qp_encode(body, len, out);
	}
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
}

static void file_part(struct buf *out, const struct client_file *f)
{
	bool ascii = is_ascii(f->name, strlen(f->name));

	buf_printf(out, "Content-Type: %s;\n ", f->type);
	if (ascii) {
		param_quoted(out, "name", f->name);
	} else {
		buf_puts(out, "name=\"");
		encode_words(out, f->name, strlen(f->name));
		buf_putc(out, '"');
	}
	buf_puts(out, "\nContent-Disposition: attachment;\n ");
	if (ascii)
		param_quoted(out, "filename", f->name);
	else
		param_2231(out, "filename", f->name);
	buf_puts(out, "\nContent-Transfer-Encoding: base64\n\n");
	base64_lines(out, f->data.data != NULL ? f->data.data : "", f->data.len);
}

static void domain_of(const char *from, char *out, size_t size)
{
	char **v;
	size_t n;
	const char *at;

	str_copy(out, "localhost", size);
	client_addresses(from, &v, &n);
	if (n > 0 && (at = strrchr(v[0], '@')) != NULL)
		str_copy(out, at + 1, size);
	client_strv_free(v, n);
}

int client_draft_build(const struct client_draft *d, bool with_bcc,
		       struct buf *out)
{
	char date[64], id[40], domain[256], boundary[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	client_random_hex(id, 16);
	domain_of(d->from, domain, sizeof(domain));
	buf_printf(out, "Date: %s\n", date);
	header_addresses(out, "From", d->from);
	if (d->to.len > 0)
		header_addresses(out, "To", buf_cstr(&d->to));
	if (d->cc.len > 0)
		header_addresses(out, "Cc", buf_cstr(&d->cc));
	if (with_bcc && d->bcc.len > 0)
		header_addresses(out, "Bcc", buf_cstr(&d->bcc));
	header_text(out, "Subject", d->subject);
	buf_printf(out, "Message-ID: <%s@%s>\n", id, domain);
	if (d->in_reply_to[0] != '\0')
		buf_printf(out, "In-Reply-To: %s\n", d->in_reply_to);
	if (d->references.len > 0)
		buf_printf(out, "References: %s\n", buf_cstr(&d->references));
	buf_puts(out, "MIME-Version: 1.0\nUser-Agent: correio mail\n");
	if (d->nfiles == 0) {
		text_part(out, d);
		return 1;
	}
	client_random_hex(boundary, 12);
	buf_printf(out, "Content-Type: multipart/mixed; boundary=\"=_correio_%s\"\n\n"
		   "This is a message in MIME format.\n", boundary);
	buf_printf(out, "\n--=_correio_%s\n", boundary);
	text_part(out, d);
	for (size_t i = 0; i < d->nfiles; i++) {
		buf_printf(out, "\n--=_correio_%s\n", boundary);
		file_part(out, &d->files[i]);
	}
	buf_printf(out, "\n--=_correio_%s--\n", boundary);
	return 1;
}

/* ---- addresses ---------------------------------------------------------- */

static void push(char ***v, size_t *n, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len == 0 || memchr(s, '@', len) == NULL)
		return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = xstrndup(s, len);
	(*n)++;
}

void client_addresses(const char *list, char ***r, size_t *n_r)
{
	const char *item = list, *lt = NULL;
	bool quoted = false;
	int angle = 0;

	*r = NULL;
	*n_r = 0;
	for (const char *p = list;; p++) {
		if (*p == '"' && angle == 0)
			quoted = !quoted;
		else if (*p == '<' && !quoted)
			angle++, lt = p;
		else if (*p == '>' && !quoted && angle > 0)
			angle--;
		if (*p != '\0' && (*p != ',' || quoted || angle > 0))
			continue;
		if (lt != NULL && lt >= item) {
			const char *gt = memchr(lt, '>', (size_t)(p - lt));
			push(r, n_r, lt + 1, gt != NULL ? (size_t)(gt - lt - 1)
							: (size_t)(p - lt - 1));
		} else {
			push(r, n_r, item, (size_t)(p - item));
		}
		if (*p == '\0')
			break;
		item = p + 1;
		lt = NULL;
	}
}

int client_draft_recipients(const struct client_draft *d, char ***r, size_t *n_r)
{
	struct buf all;

	buf_init(&all, 0);
	buf_printf(&all, "%s,%s,%s", buf_cstr(&d->to), buf_cstr(&d->cc), buf_cstr(&d->bcc));
	client_addresses(buf_cstr(&all), r, n_r);
	buf_deinit(&all);
	if (*n_r == 0)
		return client_fail(CLIENT_ERR_OTHER, "no recipients (--to, --cc or --bcc)");
	return 1;
}

/* ---- the editor --------------------------------------------------------- */

int client_edit(const char *start, size_t len, struct buf *out)
{
	char path[] = "/tmp/correio-mail-XXXXXX";
	const char *editor = getenv("VISUAL");
	int fd = mkstemp(path), status;
	pid_t pid;

	if (editor == NULL || editor[0] == '\0')
		editor = getenv("EDITOR");
	if (editor == NULL || editor[0] == '\0')
		editor = "vi";
	if (fd < 0)
		return client_fail(CLIENT_ERR_OTHER, "temporary file: %s", strerror(errno));
	if (write_all(fd, start, len) < 0) {
		close(fd);
		unlink(path);
		return client_fail(CLIENT_ERR_OTHER, "temporary file: %s", strerror(errno));
	}
	close(fd);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		unlink(path);
		return client_fail(CLIENT_ERR_OTHER, "the editor (%s) failed; nothing sent",
				   editor);
	}
	int ret = client_read_file(path, ATTACH_MAX, out);
	unlink(path);
	if (ret < 0)
		return -1;
	return out->len > 0 ? 1 : 0;
}
