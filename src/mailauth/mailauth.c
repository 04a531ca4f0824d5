/*
 * mailauth.c - DKIM signing of submitted mail at reception.  The header
 * section is kept until its end, where the From: domain decides whether
 * (and with which keys) the message is signed; the body then streams
 * through the signer.
 */
#include "mailauth/mailauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/resolve.h"
#include "dkim/dkim.h"
#include "lib/log.h"
#include "lib/util.h"

#define HEADER_MAX (512 * 1024)

struct mailauth {
	const struct config *cfg;
	struct accounts *accounts;
	struct buf header;	/* the header section, until its end */
	bool in_header, prev_nl, too_large;
	struct dkim_signer *signer;	/* NULL: not signing */
	char domain[256];
	char selectors[160];	/* for the log */
};

struct mailauth *mailauth_new_submission(const struct config *cfg, struct accounts *accounts)
{
	struct mailauth *a = calloc(1, sizeof(*a));

	if (a == NULL)
		abort();
	a->cfg = cfg;
	a->accounts = accounts;
	buf_init(&a->header, HEADER_MAX);
	a->in_header = a->prev_nl = true;
	return a;
}

/* The From: domain of the header section, or 0. */
static int from_domain(const struct buf *h, char *out, size_t size)
{
	struct dkim_field f;
	size_t pos = 0;

	while (dkim_fields_next(h->data, h->len, &pos, &f) > 0) {
		if (f.name_len == 4 && strncasecmp(f.text, "from", 4) == 0)
			return dkim_from_domain(f.value, f.value_len, out, size);
	}
	return 0;
}

/* End of the header section: start the signer if the From: domain is
   ours and has keys, and give it the header section. */
static void start_signer(struct mailauth *a)
{
	struct dkim_key keys[2];
	unsigned n = 0;
	const char *error;
	int ret;

	if (a->too_large || from_domain(&a->header, a->domain, sizeof(a->domain)) <= 0)
		return;
	if (resolve_domain_is_local(a->cfg, a->accounts, a->domain) <= 0)
		return;
	ret = dkim_keys_load(a->cfg->data_dir, a->domain, keys, &n, &error);
	if (ret < 0)
		log_warn("dkim: %s: %s: not signing", a->domain, error);
	if (ret <= 0)
		return;
	a->signer = dkim_signer_new(a->domain, keys, n, (uint64_t)time(NULL));
	snprintf(a->selectors, sizeof(a->selectors), "%s%s%s", keys[0].selector,
		 n > 1 ? ", " : "", n > 1 ? keys[1].selector : "");
	dkim_keys_unload(keys, n);
	if (a->signer != NULL) {
		dkim_signer_feed(a->signer, a->header.data, a->header.len);
		dkim_signer_feed(a->signer, "\n", 1);	/* the empty line */
	}
}

void mailauth_feed(struct mailauth *a, const char *p, size_t n)
{
	size_t i = 0;

	while (a->in_header && i < n) {
		char c = p[i++];
		if (c == '\n' && a->prev_nl) {
			a->in_header = false;
			start_signer(a);
			break;
		}
		if (!a->too_large && buf_putc(&a->header, c) < 0)
			a->too_large = true;
		a->prev_nl = c == '\n';
	}
	if (!a->in_header && i < n && a->signer != NULL)
		dkim_signer_feed(a->signer, p + i, n - i);
}

int mailauth_finish(struct mailauth *a, const char *queue_id, struct buf *out)
{
	int ret;

	if (a->in_header) {
		/* a message without a body */
		a->in_header = false;
		start_signer(a);
	}
	if (a->signer == NULL)
		return 1;
	ret = dkim_signer_finish(a->signer, out);
	if (ret > 0)
		log_info("%s: dkim: signed d=%s s=%s", queue_id, a->domain, a->selectors);
	else
		log_warn("%s: dkim: not signed (%s)", queue_id,
			 ret == 0 ? "header section too large" : "signing failed");
	return 1;
}

void mailauth_free(struct mailauth **ap)
{
	struct mailauth *a = *ap;

	if (a == NULL)
		return;
	dkim_signer_free(&a->signer);
	buf_deinit(&a->header);
	free(a);
	*ap = NULL;
}
