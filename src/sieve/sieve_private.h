#ifndef CORREIO_SIEVE_PRIVATE_H
#define CORREIO_SIEVE_PRIVATE_H
#include "sieve/sieve.h"

enum sv_arg_type { SV_ARG_TAG, SV_ARG_NUM, SV_ARG_STRINGS };

struct sv_arg {
	enum sv_arg_type type;
	char *tag;		/* TAG: without the ':' */
	uint64_t num;		/* NUM */
	char **strs;		/* STRINGS */
	unsigned n_strs;
};

struct sv_node {
	char *name;		/* identifier, lower case */
	unsigned line;
	struct sv_arg *args;
	unsigned n_args;
	struct sv_node **tests;	/* the test or test-list */
	unsigned n_tests;
	struct sv_node *block;	/* first command of the block, or NULL */
	bool has_block;
	struct sv_node *next;	/* next command in the same block */
};

struct sieve_script {
	struct sv_node *first;
	unsigned extensions;	/* SV_EXT_* bits of "require" */
};

enum {
	SV_EXT_FILEINTO = 1 << 0, SV_EXT_MAILBOX = 1 << 1, SV_EXT_ENVELOPE = 1 << 2,
	SV_EXT_BODY = 1 << 3, SV_EXT_VARIABLES = 1 << 4, SV_EXT_IMAP4FLAGS = 1 << 5,
	SV_EXT_RELATIONAL = 1 << 6, SV_EXT_REGEX = 1 << 7, SV_EXT_COPY = 1 << 8,
	SV_EXT_REJECT = 1 << 9, SV_EXT_EREJECT = 1 << 10, SV_EXT_SUBADDRESS = 1 << 11,
	SV_EXT_COMPARATOR_NUMERIC = 1 << 12, SV_EXT_VACATION = 1 << 13,
	SV_EXT_INCLUDE = 1 << 14, SV_EXT_DATE = 1 << 15, SV_EXT_INDEX = 1 << 16,
};

/* sieve_parse.c: the extension bit of a capability name, or 0. */
unsigned sieve_extension(const char *name);
void sieve_node_free(struct sv_node *n);

/* sieve_body.c: what "body" looks at (RFC 5173), decoded once per run. */
struct sv_body;
struct buf;
/* The MIME tree of data[0..len), which must outlive it. */
struct sv_body *sv_body_new(const char *data, size_t len);
void sv_body_free(struct sv_body **b);
/* The values of a body test: text true for :text, else :content with
   types[0..n_types).  Up to max strings into out, owned by b.  Returns
   how many. */
unsigned sv_body_values(struct sv_body *b, bool text, char *const *types, unsigned n_types,
			const char **out, unsigned max);
/* HTML as plain text (tags left out, character references decoded). */
void sv_html_to_text(const char *s, struct buf *out);

#endif
