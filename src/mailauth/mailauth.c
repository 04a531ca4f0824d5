/*
 * mailauth.c - the authentication step of reception: DKIM signing of
 * submitted mail, DKIM verification and Authentication-Results: for mail
 * received on `smtp`.  The header section is kept until its end (the From:
 * domain decides the signing, the DKIM-Signature fields what to hash); the
 * body then streams through the signer or the verifiers' body hashes.
 */
#include "mailauth/mailauth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "delivery/resolve.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mta.h"
#include "spf/spf.h"

#define HEADER_MAX (512 * 1024)
#define MAX_SIGS 8

enum dkim_result { DKIM_NONE, DKIM_PASS, DKIM_FAIL, DKIM_NEUTRAL, DKIM_POLICY,
		   DKIM_TEMPERROR, DKIM_PERMERROR };

static const char *const dkim_result_names[] = {
	"none", "pass", "fail", "neutral", "policy", "temperror", "permerror",
};

/* One DKIM-Signature of a received message. */
struct verify_sig {
	struct mailauth *a;
	struct dkim_field field;	/* offsets into a->header (fixed after the header) */
	size_t field_offset;
	struct dkim_sig sig;
	struct dkim_body *body;
	enum dkim_result result;
	const char *reason;
};

struct mailauth {
	const struct config *cfg;
	struct accounts *accounts;
	struct mta *mta;
	bool inbound;
	bool parent_domains;	/* notices: sign for a parent of the From: domain */
	struct buf header;	/* the header section, until its end */
	bool in_header, prev_nl, too_large;
	char queue_id[32];

	/* submission */
	struct dkim_signer *signer;	/* NULL: not signing */
	char domain[256];
	char selectors[160];	/* for the log */

	/* inbound */
	char client_ip[64];
	char helo[256];
	char sender[600];
	struct sockaddr_storage ip;
	bool ip_ok;
	struct spf_check *spf;
	enum spf_result spf_result;
	char spf_detail[300];
	bool spf_done;
	struct verify_sig sigs[MAX_SIGS];
	unsigned n_sigs;
	char from_domain[256];	/* the RFC5322.From domain, "" if not exactly one */
	char dmarc_domain[256];	/* where the record was found */
	bool dmarc_found, dmarc_org_tried, dmarc_temp;
	struct dmarc_record dmarc;
	char reply[400];
	unsigned pending;	/* DNS answers awaited */
	bool finishing;
	mailauth_done_fn *cb;
	void *cb_ctx;
	struct buf fields;	/* the verdict's fields */
	struct mailauth_verdict verdict;
};

static struct mailauth *mailauth_alloc(const struct config *cfg)
{
	struct mailauth *a = xcalloc(1, sizeof(*a));

	a->cfg = cfg;
	buf_init(&a->header, HEADER_MAX);
	buf_init(&a->fields, 0);
	a->in_header = a->prev_nl = true;
	return a;
}

struct mailauth *mailauth_new_submission(const struct config *cfg, struct accounts *accounts)
{
	struct mailauth *a = mailauth_alloc(cfg);

	a->accounts = accounts;
	return a;
}

struct mailauth *mailauth_new_notice(const struct config *cfg, struct accounts *accounts)
{
	struct mailauth *a = mailauth_new_submission(cfg, accounts);

	a->parent_domains = true;
	return a;
}

struct mailauth *mailauth_new_inbound(const struct config *cfg, struct mta *mta,
				      const char *client_ip, const char *helo,
				      const char *sender)
{
	struct mailauth *a;

	if ((cfg->check_dkim == CONFIG_CHECK_OFF && cfg->check_spf == CONFIG_CHECK_OFF &&
	     cfg->check_dmarc == CONFIG_CHECK_OFF) || mta == NULL)
		return NULL;
	a = mailauth_alloc(cfg);
	a->inbound = true;
	a->mta = mta;
	str_copy(a->client_ip, client_ip, sizeof(a->client_ip));
	str_copy(a->helo, helo, sizeof(a->helo));
	str_copy(a->sender, sender, sizeof(a->sender));
	{
		struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ip;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ip;
		if (inet_pton(AF_INET, client_ip, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			a->ip_ok = true;
		} else if (inet_pton(AF_INET6, client_ip, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			a->ip_ok = true;
		}
	}
	return a;
}

/* ---- submission: signing ---- */

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

/* A notice from MAILER-DAEMON@<hostname>: the From: domain, or the
   nearest parent of it, that is local and has keys becomes a->domain (a
   signature of example.org aligns with From: mx.example.org for DMARC).
   Returns 1 found, 0 none. */
static int signing_parent(struct mailauth *a)
{
	struct dkim_key keys[2];
	const char *d = a->domain, *error;
	unsigned n;

	for (; d != NULL && strchr(d, '.') != NULL; d = strchr(d, '.') + 1) {
		if (resolve_domain_is_local(a->cfg, a->accounts, d) <= 0 ||
		    dkim_keys_load(a->cfg->data_dir, d, keys, &n, &error) <= 0)
			continue;
		dkim_keys_unload(keys, n);
		memmove(a->domain, d, strlen(d) + 1);
		return 1;
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
	if (a->parent_domains && signing_parent(a) <= 0)
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

/* ---- inbound: the DKIM-Signature fields ---- */

static bool field_is(const struct dkim_field *f, const char *name)
{
	size_t n = f->name_len, len = strlen(name);

	while (n > 0 && (f->text[n - 1] == ' ' || f->text[n - 1] == '\t'))
		n--;
	return n == len && strncasecmp(f->text, name, n) == 0;
}

static void start_verifiers(struct mailauth *a)
{
	struct dkim_field f;
	size_t pos = 0, start;
	const char *error;

	if (a->too_large || a->cfg->check_dkim == CONFIG_CHECK_OFF)
		return;
	for (start = pos; dkim_fields_next(a->header.data, a->header.len, &pos, &f) > 0;
	     start = pos) {
		struct verify_sig *v;

		if (!field_is(&f, "dkim-signature") || a->n_sigs == MAX_SIGS)
			continue;
		v = &a->sigs[a->n_sigs++];
		v->a = a;
		v->field = f;
		v->field_offset = start;
		if (dkim_sig_parse(f.value, f.value_len, &v->sig, &error) < 0) {
			v->result = DKIM_PERMERROR;
			v->reason = error;
			continue;
		}
		v->body = dkim_body_new(v->sig.canon_body, v->sig.limit);
		v->result = DKIM_NONE;	/* not decided yet */
	}
}

/* DMARC's author domain: the domain of a header section with exactly one
   From: field (RFC 7489 §6.6.1). */
static void author_domain(struct mailauth *a)
{
	struct dkim_field f;
	size_t pos = 0;
	unsigned n = 0;
	char domain[256] = "";

	while (dkim_fields_next(a->header.data, a->header.len, &pos, &f) > 0) {
		if (field_is(&f, "from") && n++ == 0 &&
		    dkim_from_domain(f.value, f.value_len, domain, sizeof(domain)) <= 0)
			domain[0] = '\0';
	}
	if (n == 1)
		str_copy(a->from_domain, domain, sizeof(a->from_domain));
}

static void end_of_header(struct mailauth *a)
{
	a->in_header = false;
	if (a->inbound && !a->too_large)
		author_domain(a);
	if (a->inbound)
		start_verifiers(a);
	else
		start_signer(a);
}

void mailauth_feed(struct mailauth *a, const char *p, size_t n)
{
	size_t i = 0;

	while (a->in_header && i < n) {
		char c = p[i++];
		if (c == '\n' && a->prev_nl) {
			end_of_header(a);
			break;
		}
		if (!a->too_large && buf_putc(&a->header, c) < 0)
			a->too_large = true;
		a->prev_nl = c == '\n';
	}
	if (a->in_header || i >= n)
		return;
	if (a->signer != NULL)
		dkim_signer_feed(a->signer, p + i, n - i);
	for (unsigned k = 0; k < a->n_sigs; k++)
		if (a->sigs[k].body != NULL)
			dkim_body_feed(a->sigs[k].body, p + i, n - i);
}

/* ---- inbound: the verdict ---- */

/* Fields named Authentication-Results whose authserv-id is our hostname:
   forged (or left over from a loop); removed (RFC 8601 §5). */
static void remove_forged_results(struct mailauth *a)
{
	struct dkim_field f;
	size_t pos = 0, start;
	size_t hl = strlen(a->cfg->hostname);

	for (start = pos; dkim_fields_next(a->header.data, a->header.len, &pos, &f) > 0;
	     start = pos) {
		const char *v = f.value, *end = f.value + f.value_len;

		if (!field_is(&f, "authentication-results") ||
		    a->verdict.n_remove == MAILAUTH_MAX_REMOVE)
			continue;
		while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
			v++;
		if ((size_t)(end - v) >= hl && strncasecmp(v, a->cfg->hostname, hl) == 0 &&
		    (v + hl == end || strchr(" \t\r\n;", v[hl]) != NULL)) {
			a->verdict.remove[a->verdict.n_remove].offset = start;
			a->verdict.remove[a->verdict.n_remove].len = f.len;
			a->verdict.n_remove++;
		}
	}
}

/* SPF's identity: MAIL FROM, or postmaster@HELO for the null sender. */
static void spf_identity(const struct mailauth *a, const char **what, char *out, size_t size)
{
	if (a->sender[0] != '\0') {
		*what = "smtp.mailfrom";
		str_copy(out, a->sender, size);
	} else {
		*what = "smtp.helo";
		str_copy(out, a->helo, size);
	}
}

enum dmarc_result { DMARC_RESULT_NONE, DMARC_RESULT_PASS, DMARC_RESULT_FAIL,
		   DMARC_RESULT_TEMPERROR };

/* RFC 7489 §4.2: pass when SPF or DKIM passed for an identifier aligned
   with the From: domain. */
static enum dmarc_result dmarc_evaluate(const struct mailauth *a)
{
	const struct dmarc_psl *psl = dmarc_psl_default();

	if (a->dmarc_temp)
		return DMARC_RESULT_TEMPERROR;
	if (!a->dmarc_found)
		return DMARC_RESULT_NONE;
	if (a->spf_done && a->spf_result == SPF_PASS) {
		const char *at = strrchr(a->sender, '@');
		const char *spf_domain = a->sender[0] != '\0' && at != NULL ? at + 1 : a->helo;
		if (dmarc_aligned(psl, spf_domain, a->from_domain, a->dmarc.aspf_strict))
			return DMARC_RESULT_PASS;
	}
	for (unsigned k = 0; k < a->n_sigs; k++)
		if (a->sigs[k].result == DKIM_PASS &&
		    dmarc_aligned(psl, a->sigs[k].sig.domain, a->from_domain, a->dmarc.adkim_strict))
			return DMARC_RESULT_PASS;
	return DMARC_RESULT_FAIL;
}

/* The policy that applies to a failure: sp= when the record was found at
   the organizational domain for a subdomain. */
static enum dmarc_policy dmarc_applied(const struct mailauth *a)
{
	if (strcmp(a->dmarc_domain, a->from_domain) != 0)
		return a->dmarc.sp;
	return a->dmarc.p;
}

static void results_field(struct mailauth *a)
{
	struct buf *b = &a->fields;
	bool dkim = a->cfg->check_dkim != CONFIG_CHECK_OFF;

	buf_printf(b, "Authentication-Results: %s", a->cfg->hostname);
	if (a->spf_done) {
		const char *what;
		char id[600];
		spf_identity(a, &what, id, sizeof(id));
		buf_printf(b, ";\n\tspf=%s", spf_result_name(a->spf_result));
		if (a->spf_result == SPF_TEMPERROR || a->spf_result == SPF_PERMERROR)
			buf_printf(b, " reason=\"%s\"", a->spf_detail);
		buf_printf(b, " %s=%s", what, id);
	}
	if (a->cfg->check_dmarc != CONFIG_CHECK_OFF && a->from_domain[0] != '\0') {
		static const char *const names[] = { "none", "pass", "fail", "temperror" };
		enum dmarc_result r = dmarc_evaluate(a);
		buf_printf(b, ";\n\tdmarc=%s", names[r]);
		if (a->dmarc_found)
			buf_printf(b, " (p=%s dis=%s)", dmarc_policy_name(dmarc_applied(a)),
				   r == DMARC_RESULT_FAIL ? dmarc_policy_name(dmarc_applied(a)) : "none");
		buf_printf(b, " header.from=%s", a->from_domain);
	}
	if (dkim && a->n_sigs == 0)
		buf_puts(b, ";\n\tdkim=none");
	for (unsigned k = 0; k < a->n_sigs; k++) {
		struct verify_sig *v = &a->sigs[k];
		buf_printf(b, ";\n\tdkim=%s", dkim_result_names[v->result]);
		if (v->reason != NULL && v->result != DKIM_PASS)
			buf_printf(b, " reason=\"%s\"", v->reason);
		if (v->sig.domain[0] != '\0')
			buf_printf(b, " header.d=%s header.s=%s header.a=%s header.b=%s",
				   v->sig.domain, v->sig.selector,
				   v->sig.alg == DKIM_ALG_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256",
				   v->sig.b_prefix);
	}
	buf_puts(b, "\n");
}

static void inbound_verdict(struct mailauth *a)
{
	bool pass = false, fail = false;

	a->verdict.action = MAILAUTH_ACCEPT;
	a->verdict.fields = &a->fields;
	if (!a->too_large) {
		remove_forged_results(a);
		results_field(a);
	}
	for (unsigned k = 0; k < a->n_sigs; k++) {
		pass |= a->sigs[k].result == DKIM_PASS;
		fail |= a->sigs[k].result == DKIM_FAIL;
		log_info("%s: dkim=%s d=%s s=%s%s%s", a->queue_id,
			 dkim_result_names[a->sigs[k].result], a->sigs[k].sig.domain,
			 a->sigs[k].sig.selector, a->sigs[k].reason != NULL ? ": " : "",
			 a->sigs[k].reason != NULL ? a->sigs[k].reason : "");
	}
	if (a->spf_done)
		log_info("%s: spf=%s (%s) client=%s helo=%s from=<%s>", a->queue_id,
			 spf_result_name(a->spf_result), a->spf_detail, a->client_ip, a->helo,
			 a->sender);
	if (a->cfg->check_dmarc != CONFIG_CHECK_OFF && a->from_domain[0] != '\0' &&
	    dmarc_evaluate(a) == DMARC_RESULT_FAIL) {
		enum dmarc_policy p = dmarc_applied(a);
		bool sampled = a->dmarc.pct >= 100 || (unsigned)random() % 100 < a->dmarc.pct;
		log_info("%s: dmarc=fail header.from=%s p=%s pct=%u", a->queue_id, a->from_domain,
			 dmarc_policy_name(p), a->dmarc.pct);
		if (a->cfg->check_dmarc == CONFIG_CHECK_ENFORCE && sampled && p == DMARC_REJECT) {
			snprintf(a->reply, sizeof(a->reply), "550 5.7.1 Error: rejected by the "
				 "DMARC policy of %s", a->from_domain);
			a->verdict.action = MAILAUTH_REJECT;
			a->verdict.reply = a->reply;
			a->cb(a->cb_ctx, &a->verdict);
			return;
		}
		if (a->cfg->check_dmarc == CONFIG_CHECK_ENFORCE && sampled && p != DMARC_NONE)
			a->verdict.junk = true;	/* quarantine (or a sampled-out reject, §6.6.4) */
	}
	if (a->cfg->check_spf == CONFIG_CHECK_ENFORCE && a->spf_done &&
	    a->spf_result == SPF_FAIL) {
		/* as policyd-spf does for a Fail */
		a->verdict.action = MAILAUTH_REJECT;
		a->verdict.reply = "550 5.7.23 Error: SPF check failed: the sender's domain "
				   "does not allow this client";
	} else if (a->cfg->check_dkim == CONFIG_CHECK_ENFORCE && fail && !pass) {
		/* as OpenDKIM's On-BadSignature = reject */
		a->verdict.action = MAILAUTH_REJECT;
		a->verdict.reply = "550 5.7.20 Error: DKIM signature did not verify";
	}
	a->cb(a->cb_ctx, &a->verdict);
}

static void lookup_done(struct mailauth *a)
{
	if (--a->pending == 0 && a->finishing)
		inbound_verdict(a);
}

static void on_key(void *ctx, const struct dns_answer *ans)
{
	struct verify_sig *v = ctx;
	unsigned char bh[32];
	const char *error = "no key record";
	void *pkey = NULL;
	int ret = 0;

	if (ans->status == DNS_TEMPORARY) {
		v->result = DKIM_TEMPERROR;
		v->reason = "key lookup failed";
	} else if (ans->status != DNS_OK || ans->n != 1) {
		v->result = DKIM_PERMERROR;
		v->reason = ans->n > 1 ? "more than one key record" : "no key record";
	} else {
		ret = dkim_key_parse(ans->txt[0], strlen(ans->txt[0]), v->sig.alg, &pkey, &error);
		if (ret <= 0) {
			v->result = DKIM_PERMERROR;
			v->reason = error;
		}
	}
	if (ret > 0) {
		dkim_body_final(v->body, bh);
		if (v->sig.expires != 0 && v->sig.expires < (uint64_t)time(NULL)) {
			v->result = DKIM_POLICY;
			v->reason = "signature expired";
		} else if (dkim_sig_verify(v->a->header.data, v->a->header.len, &v->field, &v->sig,
					   pkey, bh, &error) > 0) {
			v->result = DKIM_PASS;
		} else {
			v->result = DKIM_FAIL;
			v->reason = error;
		}
		EVP_PKEY_free(pkey);
	}
	lookup_done(v->a);
}

static void on_spf_answer(void *ctx, const struct dns_answer *ans)
{
	struct mailauth *a = ctx;

	spf_check_answer(a->spf, ans);
}

static void spf_query(void *ctx, struct spf_check *c, const char *name, enum dns_type type)
{
	struct mailauth *a = ctx;

	dns_query(mta_dns(a->mta), name, type, on_spf_answer, a);
}

static void spf_done(void *ctx, enum spf_result result, const char *detail)
{
	struct mailauth *a = ctx;

	a->spf_result = result;
	str_copy(a->spf_detail, detail, sizeof(a->spf_detail));
	a->spf_done = true;
	lookup_done(a);
}

static void dmarc_query(struct mailauth *a, const char *domain);

static void on_dmarc(void *ctx, const struct dns_answer *ans)
{
	struct mailauth *a = ctx;
	const char *found = NULL, *error;
	char org[256];
	unsigned n = 0;

	if (ans->status == DNS_TEMPORARY) {
		a->dmarc_temp = true;
	} else {
		for (unsigned i = 0; ans->status == DNS_OK && i < ans->n; i++)
			if (dmarc_is_record(ans->txt[i]) && n++ == 0)
				found = ans->txt[i];
		if (n == 1 && dmarc_record_parse(found, strlen(found), &a->dmarc, &error) > 0) {
			a->dmarc_found = true;
		} else if (!a->dmarc_org_tried &&
			   dmarc_org_domain(dmarc_psl_default(), a->from_domain, org, sizeof(org)) > 0 &&
			   strcmp(org, a->from_domain) != 0) {
			/* §6.6.3: then the organizational domain's record */
			a->dmarc_org_tried = true;
			str_copy(a->dmarc_domain, org, sizeof(a->dmarc_domain));
			dmarc_query(a, org);
			return;
		}
	}
	lookup_done(a);
}

static void dmarc_query(struct mailauth *a, const char *domain)
{
	char name[300];

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	dns_query(mta_dns(a->mta), name, DNS_TXT, on_dmarc, a);
}

static void start_dmarc(struct mailauth *a)
{
	if (a->cfg->check_dmarc == CONFIG_CHECK_OFF || a->from_domain[0] == '\0')
		return;
	str_copy(a->dmarc_domain, a->from_domain, sizeof(a->dmarc_domain));
	a->pending++;
	dmarc_query(a, a->from_domain);
}

/* check_host() for MAIL FROM, or for HELO when MAIL FROM is null
   (RFC 7208 §2.3, §2.4). */
static void start_spf(struct mailauth *a)
{
	char sender[600];
	const char *domain, *at = strrchr(a->sender, '@');

	if (a->cfg->check_spf == CONFIG_CHECK_OFF || !a->ip_ok)
		return;
	if (a->sender[0] != '\0' && at != NULL) {
		str_copy(sender, a->sender, sizeof(sender));
		domain = at + 1;
	} else {
		snprintf(sender, sizeof(sender), "postmaster@%s", a->helo);
		domain = a->helo;
	}
	a->pending++;
	a->spf = spf_check_new(&a->ip, domain, sender, a->helo, spf_query, spf_done, a);
	spf_check_start(a->spf);
}

void mailauth_finish(struct mailauth *a, const char *queue_id, mailauth_done_fn *cb, void *ctx)
{
	str_copy(a->queue_id, queue_id, sizeof(a->queue_id));
	if (a->in_header)
		end_of_header(a);	/* a message without a body */
	a->cb = cb;
	a->cb_ctx = ctx;
	a->verdict.fields = &a->fields;
	if (!a->inbound) {
		if (a->signer != NULL) {
			int ret = dkim_signer_finish(a->signer, &a->fields);
			if (ret > 0)
				log_info("%s: dkim: signed d=%s s=%s", queue_id, a->domain,
					 a->selectors);
			else
				log_warn("%s: dkim: not signed (%s)", queue_id,
					 ret == 0 ? "header section too large" : "signing failed");
		}
		cb(ctx, &a->verdict);
		return;
	}
	a->pending = 1;		/* held until every lookup is started */
	start_spf(a);
	start_dmarc(a);
	for (unsigned k = 0; k < a->n_sigs; k++) {
		struct verify_sig *v = &a->sigs[k];
		char name[400];

		if (v->result != DKIM_NONE)
			continue;
		snprintf(name, sizeof(name), "%s._domainkey.%s", v->sig.selector, v->sig.domain);
		a->pending++;
		dns_query(mta_dns(a->mta), name, DNS_TXT, on_key, v);
	}
	a->finishing = true;
	lookup_done(a);
}

void mailauth_free(struct mailauth **ap)
{
	struct mailauth *a = *ap;

	if (a == NULL)
		return;
	dkim_signer_free(&a->signer);
	spf_check_free(&a->spf);
	for (unsigned k = 0; k < a->n_sigs; k++)
		dkim_body_free(&a->sigs[k].body);
	buf_deinit(&a->header);
	buf_deinit(&a->fields);
	free(a);
	*ap = NULL;
}
