/*
 * tlsrpt_record.c - the _smtp._tls TXT record of RFC 8460 §3:
 *
 *   tlsrpt-record     = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
 *   field-delim       = *WSP ";" *WSP
 *   tlsrpt-version    = %s"v=TLSRPTv1"
 *   tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri        = URI (commas and exclamation points %-encoded)
 *   tlsrpt-extension  = name "=" value
 *
 * Only mailto: URIs are kept (their address, %-decoded, without a
 * ?query); the others are counted.
 */
#include "mta/tlsrpt_record.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The address of a "mailto:" URI [p, end) into out.  Returns 1 or -1. */
static int mailto(const char *p, const char *end, char *out)
{
	size_t n = 0;
	bool at = false;

	for (; p < end && *p != '?'; p++) {
		char c = *p;
		if (c == '%') {
			int hi, lo;
			if (end - p < 3 || (hi = hex_value((unsigned char)p[1])) < 0 ||
			    (lo = hex_value((unsigned char)p[2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if ((unsigned char)c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',')
			return -1;
		at |= c == '@';
		if (n + 1 >= TLSRPT_ADDR_MAX)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return n > 0 && at && out[0] != '@' && out[n - 1] != '@' ? 1 : -1;
}

/* The rua value [p, end): URIs separated by commas. */
static int rua(const char *p, const char *end, struct tlsrpt_rua *r)
{
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma != NULL ? comma : end;
		while (p < e && is_wsp(*p))
			p++;
		while (e > p && is_wsp(e[-1]))
			e--;
		if (e == p)
			return -1;
		if ((size_t)(e - p) >= 7 && strncasecmp(p, "mailto:", 7) == 0) {
			if (r->n_mailto < TLSRPT_MAX_RUA) {
				if (mailto(p + 7, e, r->mailto[r->n_mailto]) < 0)
					return -1;
				r->n_mailto++;
			}
		} else if (memchr(p, ':', (size_t)(e - p)) != NULL) {
			r->n_other++;
		} else {
			return -1;	/* not a URI */
		}
		if (comma == NULL)
			return 1;
		p = comma + 1;
	}
}

int tlsrpt_record_parse(const char *txt, struct tlsrpt_rua *r)
{
	const char *p = txt;
	bool have_rua = false;

	memset(r, 0, sizeof(*r));
	if (strncmp(txt, "v=TLSRPTv1", 10) != 0 ||
	    (txt[10] != ';' && txt[10] != '\0' && !is_wsp(txt[10])))
		return 0;
	p = txt + 10;
	for (;;) {
		const char *end, *eq;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';')
			return -1;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, ";");
		while (end > p && is_wsp(end[-1]))
			end--;
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL || eq == p)
			return -1;
		if (eq - p == 3 && memcmp(p, "rua", 3) == 0 && !have_rua) {
			if (rua(eq + 1, end, r) < 0)
				return -1;
			have_rua = true;
		}
		p = end;
	}
	return have_rua ? 1 : -1;
}
