/*
 * jmap_blob.c - blob upload and download (RFC 8620 §6).
 *
 * Uploads are stored among the account's own files (jmap_files.c:
 * written to a temporary name, fsynced and renamed), blobId "u" + 32
 * random hex digits; the body is capped at maxSizeUpload (evhttp answers
 * 413 beyond it).  Downloads serve an upload, a whole message ("b" + the
 * email's digits, CRLF line ends as IMAP sends it) or one part of a
 * message ("p" + digits + "-" + partId with "_" for ".", transfer
 * encoding undone; the digits of an email, or of an upload for the parts
 * Email/parse shows), always with Content-Disposition: attachment,
 * X-Content-Type-Options: nosniff and a type that a browser will not run
 * (anything that could be active content becomes application/octet-stream).
 */
#include "jmap_private.h"
#include "jmap_parse.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/encoding.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"
#include "conn/services.h"

#define BLOB_LIFETIME (24 * 3600)

static void send_plain(struct evhttp_request *req, int status, const char *reason,
		       const char *text)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add(out, text, strlen(text));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
}

void jmap_blob_upload(struct jmap_account *a, struct evhttp_request *req, const char *acct)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Content-Type");
	unsigned char rnd[16];
	char path[1200], id[40];
	json_t *resp;

	if (strcmp(acct, a->id) != 0 && !(strncmp(acct, a->id, strlen(a->id)) == 0 &&
					 strcmp(acct + strlen(a->id), "/") == 0)) {
		send_plain(req, 404, "Not Found", "no such account\n");
		return;
	}
	if (len > jmap_limits_of(a->j)->max_size_upload) {
		send_plain(req, 413, "Payload Too Large", "upload too large\n");
		return;
	}
	RAND_bytes(rnd, sizeof(rnd));
	id[0] = 'u';
	hex_encode(rnd, 16, id + 1);
	/* uploads live BLOB_LIFETIME seconds (RFC 8620 §6.1: at least an
	   hour when unreferenced); each upload sweeps the account's older
	   ones, so an account holds what it uploaded in the last day at most */
	jmap_file_expire_uploads(a->srv->cfg.data_dir, a->id, time(NULL) - BLOB_LIFETIME);
	if (jmap_file_path(a->srv->cfg.data_dir, a->id, id, path, sizeof(path)) < 0 ||
	    jmap_file_put(path, evbuffer_pullup(in, -1), len) < 0) {
		log_err("jmap: upload %s of account %s: cannot store it: %m", id, a->id);
		send_plain(req, 500, "Internal Server Error", "cannot store the blob\n");
		return;
	}
	resp = json_pack("{s:s,s:s,s:s,s:I}", "accountId", a->id, "blobId", id,
			 "type", type != NULL && jmap_type_safe(type) ? type : "application/octet-stream",
			 "size", (json_int_t)len);
	jmap_send_json(req, 201, resp, NULL);
	json_decref(resp);
}

/* A part of a message: digits "-" path ("1_2"). */
static int upload_read(struct jmap_account *a, const char *id, struct buf *out);

/* An upload's bytes with LF line ends (as messages are parsed). */
static int upload_text(struct jmap_account *a, const char *id, struct buf *out)
{
	struct buf raw;
	int ret;

	buf_init(&raw, out->max);
	ret = upload_read(a, id, &raw);
	for (size_t i = 0; ret > 0 && i < raw.len; i++)
		if (!(raw.data[i] == '\r' && i + 1 < raw.len && raw.data[i + 1] == '\n') &&
		    buf_putc(out, raw.data[i]) < 0)
			ret = -1;
	buf_deinit(&raw);
	return ret;
}

static int read_part(struct jmap_account *a, const char *id, struct buf *out)
{
	char email[20], spec[64];
	uint32_t uv, uid;
	const char *dash = strchr(id, '-');
	struct buf text;
	struct mime_message *msg;
	struct mime_section sec;
	int ret = 0;

	if (dash == NULL || (dash - id != 17 && dash - id != 33) ||
	    strlen(dash + 1) >= sizeof(spec))
		return 0;
	str_copy(spec, dash + 1, sizeof(spec));
	for (char *c = spec; *c != '\0'; c++)
		if (*c == '_')
			*c = '.';
	buf_init(&text, 256u * 1024 * 1024);
	if (dash - id == 33) {
		/* a part of an upload (Email/parse): "p" + the upload's digits */
		char up[34];
		memcpy(up, id, 33);
		up[0] = 'u';
		up[33] = '\0';
		ret = upload_text(a, up, &text);
	} else {
		memcpy(email, id, 17);
		email[0] = 'm';
		email[17] = '\0';
		ret = jmap_email_id_parse(email, 'm', &uv, &uid) < 0 ? 0 :
		      jmap_email_read(a, uv, uid, &text);
	}
	if (ret > 0) {
		msg = mime_message_parse(text.data != NULL ? text.data : "", text.len, NULL);
		ret = 0;
		if (strspn(spec, "0123456789.") == strlen(spec) &&
		    mime_section_resolve(msg, strcmp(spec, "1") == 0 &&
					 mime_message_root(msg)->children == NULL ? "" : spec,
					 strlen(spec), &sec) > 0 &&
		    sec.part->children == NULL)
			ret = mime_text_binary(msg, sec.part, out) >= 0 ? 1 : -1;
		mime_message_free(&msg);
	}
	buf_deinit(&text);
	return ret;
}

static int upload_read(struct jmap_account *a, const char *id, struct buf *out)
{
	char path[1200];

	/* bounded by out's own maximum */
	if (jmap_file_path(a->srv->cfg.data_dir, a->id, id, path, sizeof(path)) < 0)
		return 0;
	return jmap_file_read_max(path, SIZE_MAX, out);
}

int jmap_blob_read(struct jmap_account *a, const char *id, struct buf *out)
{
	uint32_t uv, uid;

	if (!jmap_is_id(id) || jmap_account_load(a) < 0)
		return 0;
	if (id[0] == 'u' && strlen(id) == 33)
		return upload_read(a, id, out);
	if (id[0] == 'b' && jmap_email_id_parse(id, 'b', &uv, &uid) > 0) {
		struct buf lf;
		int ret;
		buf_init(&lf, out->max);
		ret = jmap_email_read(a, uv, uid, &lf);
		if (ret > 0 && mime_crlf_append(out, lf.data != NULL ? lf.data : "", lf.len) < 0)
			ret = -1;
		buf_deinit(&lf);
		return ret;
	}
	if (id[0] == 'p')
		return read_part(a, id, out);
	return 0;
}

/* "{accountId}/{blobId}/{name}" */
void jmap_blob_download(struct jmap_account *a, struct evhttp_request *req,
			const char *path)
{
	const char *s1 = strchr(path, '/'), *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params = { 0 };
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char blob[300], disp[700], *name = NULL;
	const char *accept = NULL;
	struct evbuffer *out;
	struct buf data;
	int ret;

	if (s1 == NULL || s2 == NULL || (size_t)(s1 - path) != strlen(a->id) ||
	    strncmp(path, a->id, strlen(a->id)) != 0 || (size_t)(s2 - s1 - 1) >= sizeof(blob)) {
		send_plain(req, 404, "Not Found", "no such blob\n");
		return;
	}
	memcpy(blob, s1 + 1, (size_t)(s2 - s1 - 1));
	blob[s2 - s1 - 1] = '\0';
	buf_init(&data, 256u * 1024 * 1024);
	if ((ret = jmap_blob_read(a, blob, &data)) <= 0) {
		buf_deinit(&data);
		if (ret < 0)
			send_plain(req, 500, "Internal Server Error", "cannot read the blob\n");
		else
			send_plain(req, 404, "Not Found", "no such blob\n");
		return;
	}
	if (query != NULL && evhttp_parse_query_str(query, &params) == 0)
		accept = evhttp_find_header(&params, "accept");
	name = evhttp_uridecode(s2 + 1, 0, NULL);
	/* the file name: no quotes, backslashes or control characters */
	for (char *c = name; c != NULL && *c != '\0'; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '_';
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
		 name != NULL && name[0] != '\0' ? name : "download");
	free(name);
	evhttp_add_header(h, "Content-Type", accept != NULL && jmap_type_safe(accept) ?
			  accept : "application/octet-stream");
	evhttp_add_header(h, "Content-Disposition", disp);
	/* the listener's page policy gives way to the strictest one */
	evhttp_remove_header(h, "Content-Security-Policy");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; sandbox");
	evhttp_add_header(h, "Cache-Control", "private, immutable, max-age=31536000");
	evhttp_clear_headers(&params);
	out = evbuffer_new();
	evbuffer_add(out, data.data != NULL ? data.data : "", data.len);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	buf_deinit(&data);
}
