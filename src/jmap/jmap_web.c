/*
 * jmap_web.c - what the HTTP listener adds for the webmail: the security
 * headers of every response, the same-origin check of cookie requests and
 * the static files (index.html, the JavaScript modules, the style sheet)
 * read from the web root: [jmap] web_root, else the installed share dir
 * (CORREIO_WEB_SHARE, from the Makefile's PREFIX) when it holds an
 * index.html, else the source tree's web/ (CORREIO_WEB_SOURCE), so that a
 * fresh clone serves it with `make run`.
 */
#include "jmap_private.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#ifndef CORREIO_WEB_SHARE
#define CORREIO_WEB_SHARE "/usr/local/share/correio/web"
#endif
#ifndef CORREIO_WEB_SOURCE
#define CORREIO_WEB_SOURCE "web"
#endif

#define MAX_STATIC_FILE (4u * 1024 * 1024)

/* The policy of every response.  Scripts: only the files served here (no
   inline script, no eval).  The message frame is a srcdoc iframe with a
   sandbox that does not allow scripts; a srcdoc document inherits this
   policy, so mail's own style sheets need 'unsafe-inline' styles, and
   images the user asked to see need http: and https: (the frame adds its
   own, stricter policy until then; the page itself never puts mail in
   its own document). */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
	"img-src 'self' data: blob: https: http:; connect-src 'self'; " \
	"frame-src 'self' blob:; child-src 'self' blob:; font-src 'self'; " \
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

void jmap_web_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

void jmap_web_root_resolve(const char *configured, char *out, size_t size)
{
	if (configured[0] != '\0')
		str_copy(out, configured, size);
	else if (access(CORREIO_WEB_SHARE "/index.html", R_OK) == 0)
		str_copy(out, CORREIO_WEB_SHARE, size);
	else
		str_copy(out, CORREIO_WEB_SOURCE, size);
}

bool jmap_web_same_origin(struct evhttp_request *req, bool tls)
{
	const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *site = evhttp_find_header(in, "Sec-Fetch-Site");
	const char *host = evhttp_find_header(in, "Host");
	const char *scheme = tls ? "https://" : "http://";
	size_t slen = strlen(scheme);

	if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return false;
	if (origin == NULL)
		return true;
	return host != NULL && strncmp(origin, scheme, slen) == 0 &&
	       strcasecmp(origin + slen, host) == 0;
}

static const char *static_type(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

static void send_status(struct evhttp_request *req, int status, const char *reason)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add_printf(out, "%s\n", reason);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
}

bool jmap_web_is_static(const char *path)
{
	const char *name = path + 1;

	if (strcmp(path, "/") == 0)
		return true;
	return path[0] == '/' && name[0] != '.' && name[0] != '\0' && strlen(name) < 100 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
		       strlen(name) &&
	       strstr(name, "..") == NULL && static_type(name) != NULL;
}

void jmap_web_static(const char *root, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char file[1200];
	struct evbuffer *out;
	struct stat st;
	int fd;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		send_status(req, 405, "Method Not Allowed");
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", root, name);
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_STATIC_FILE) {
		if (fd >= 0)
			close(fd);
		else if (strcmp(name, "index.html") == 0)
			log_warn("jmap: no webmail at %s: %m", file);
		send_status(req, 404, "Not Found");
		return;
	}
	/* read, not evbuffer_add_file: the https bufferevent cannot send a
	   file segment */
	out = evbuffer_new();
	while (evbuffer_get_length(out) < (size_t)st.st_size)
		if (evbuffer_read(out, fd, (int)((size_t)st.st_size -
						 evbuffer_get_length(out))) <= 0)
			break;
	close(fd);
	if (evbuffer_get_length(out) != (size_t)st.st_size) {
		evbuffer_free(out);
		send_status(req, 500, "Internal Server Error");
		return;
	}
	evhttp_add_header(h, "Content-Type", static_type(name));
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}
