/*
 * sasl.c - the PLAIN and LOGIN mechanisms.
 *
 *   message   = [authzid] UTF8NUL authcid UTF8NUL passwd   (RFC 4616 §2)
 *   authcid   = 1*SAFE ; each field 1..255 octets in the RFC, we allow
 *                        up to SASL_FIELD_MAX
 */
#include "sasl.h"
#include "lib/util.h"

#include <stdbool.h>
#include <string.h>

/* Copy the field [p, p+n) into out, refusing empty (unless allowed) or long. */
static int take_field(const char *p, size_t n, char *out, bool may_be_empty)
{
	if ((n == 0 && !may_be_empty) || n > SASL_FIELD_MAX)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

int sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *r,
		      const char **error_r)
{
	struct buf raw;
	const char *p, *nul1, *nul2, *end;
	int ret = -1;

	buf_init(&raw, 3 * SASL_FIELD_MAX + 8);
	memset(r, 0, sizeof(*r));
	*error_r = "bad base64";
	if (base64_decode(b64, len, &raw) < 0)
		goto out;
	p = raw.data != NULL ? raw.data : "";
	end = p + raw.len;
	*error_r = "expected authzid NUL authcid NUL password";
	if ((nul1 = memchr(p, '\0', raw.len)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL ||
	    memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL)
		goto out;
	*error_r = "empty or too long field";
	if (take_field(p, (size_t)(nul1 - p), r->authzid, true) < 0 ||
	    take_field(nul1 + 1, (size_t)(nul2 - nul1 - 1), r->authcid, false) < 0 ||
	    take_field(nul2 + 1, (size_t)(end - nul2 - 1), r->password, false) < 0)
		goto out;
	ret = 1;
out:
	if (raw.data != NULL)
		explicit_bzero(raw.data, raw.cap);
	buf_deinit(&raw);
	if (ret < 0)
		explicit_bzero(r, sizeof(*r));
	return ret;
}

int sasl_login_decode(const char *b64, size_t len, char *out, size_t size,
		      const char **error_r)
{
	struct buf raw;
	int ret = -1;

	buf_init(&raw, size - 1);
	*error_r = "bad base64";
	if (base64_decode(b64, len, &raw) > 0) {
		*error_r = "empty value or NUL inside";
		if (raw.len > 0 && memchr(raw.data, '\0', raw.len) == NULL) {
			memcpy(out, raw.data, raw.len);
			out[raw.len] = '\0';
			ret = 1;
		}
	}
	if (raw.data != NULL)
		explicit_bzero(raw.data, raw.cap);
	buf_deinit(&raw);
	return ret;
}
