#ifndef CORREIO_TLSRPT_RECORD_H
#define CORREIO_TLSRPT_RECORD_H
/*
 * tlsrpt_record: the TXT record at _smtp._tls.DOMAIN (RFC 8460 §3) that
 * says where a domain wants its TLS reports.  Pure; used by tlsrpt.c,
 * fuzzed by fuzz_tlsrpt_record.c.
 */
#include <stddef.h>

#define TLSRPT_MAX_RUA 8
#define TLSRPT_ADDR_MAX 320

struct tlsrpt_rua {
	unsigned n_mailto;			/* mailto: addresses below */
	char mailto[TLSRPT_MAX_RUA][TLSRPT_ADDR_MAX];	/* %-decoded, without ?query */
	unsigned n_other;			/* other URIs (https:), not kept */
};

/* Parse one TXT record: "v=TLSRPTv1; rua=mailto:a@example.net,https://...".
   Returns 1 with *r filled, 0 when the record is not a TLSRPT record
   (another text: ignored), -1 for a TLSRPT record with bad syntax (no
   rua, an empty URI, a mailto: that is not an address). */
int tlsrpt_record_parse(const char *txt, struct tlsrpt_rua *r);

#endif
