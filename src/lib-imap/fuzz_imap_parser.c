/*
 * fuzz_imap_parser.c - libFuzzer target: client input through the IMAP
 * command reader.
 *
 * The first bytes choose the limits, the literal decisions and the piece
 * sizes; the rest is fed once whole and once in pieces.  Every event is
 * checked (tree shape, limits, literal octet counts, memory given back)
 * and written to a transcript; the two transcripts must be equal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_parser.h"
#include "lib/buf.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct run {
	struct imap_parser *p;
	struct imap_parser_limits limits;
	uint32_t decide;	/* random bits for the session's choices */
	struct buf *log;
	uint64_t streamed;
	size_t idle;
};

static uint32_t next_rand(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

static void limits_pick(uint8_t sel, struct imap_parser_limits *l)
{
	imap_parser_limits_default(l);
	if ((sel & 3) == 0)
		return;
	l->max_line = 40 + (sel >> 2) * 8;
	l->max_literal = 1 + (sel >> 3) * 4;
	l->max_collect = 20;
	l->max_args = 2 + (sel >> 4);
	l->max_depth = 1 + (sel & 3);
	l->max_raw_line = 10 + (sel >> 5);
}

static unsigned walk_args(const struct imap_arg *args, size_t count,
			  unsigned depth, const struct run *r)
{
	unsigned total = 0;
	size_t i;

	CHECK(depth <= r->limits.max_depth);
	for (i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		total++;
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			CHECK(a->len > 0 && strlen(a->str) == a->len);
			CHECK(a->type != IMAP_ARG_NIL ||
			      strcasecmp(a->str, "NIL") == 0);
			if (a->section != NULL) {
				CHECK(strncasecmp(a->str, a->section->name,
						  strlen(a->section->name)) == 0);
				CHECK(a->section->field_count == 0 ||
				      a->section->text >=
				      IMAP_SECTION_TEXT_HEADER_FIELDS);
				CHECK(!a->section->partial ||
				      a->section->partial_length > 0);
			}
			buf_printf(r->log, " A%s", a->str);
			break;
		case IMAP_ARG_STRING:
			CHECK(strlen(a->str) == a->len);
			buf_printf(r->log, " S%zu:", a->len);
			buf_append(r->log, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL:
			CHECK(a->str[a->len] == '\0' && a->literal_size == a->len);
			CHECK(a->len <= r->limits.max_collect);
			buf_printf(r->log, " L%zu:", a->len);
			buf_append(r->log, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL_STREAMED:
			CHECK(a->literal_size <= r->limits.max_literal);
			buf_printf(r->log, " T%llu",
				   (unsigned long long)a->literal_size);
			break;
		case IMAP_ARG_LIST:
			buf_puts(r->log, " (");
			total += walk_args(a->list, a->len, depth + 1, r);
			buf_puts(r->log, ")");
			break;
		default:
			abort();
		}
	}
	CHECK(args[count].type == IMAP_ARG_EOL);
	return total;
}

static void on_literal(struct run *r, const struct imap_event *ev)
{
	enum imap_literal_action want = next_rand(&r->decide) % 3;
	int ret;

	CHECK(ev->tag != NULL && ev->name != NULL);
	CHECK(ev->literal.depth <= r->limits.max_depth);
	CHECK(ev->literal.action != IMAP_LITERAL_STREAM);
	CHECK(ev->literal.size <= r->limits.max_literal ||
	      ev->literal.action == IMAP_LITERAL_REJECT);
	CHECK(ev->literal.action != IMAP_LITERAL_COLLECT ||
	      ev->literal.size <= r->limits.max_collect);
	walk_args(ev->args, ev->arg_count, 0, r);
	ret = imap_parser_literal_action(r->p, want);
	if (want == IMAP_LITERAL_REJECT)
		CHECK(ret == 1);
	else if (want == IMAP_LITERAL_STREAM)
		CHECK((ret == 1) == (ev->literal.size <= r->limits.max_literal));
	else if (ev->literal.size > r->limits.max_collect ||
		 ev->literal.size > r->limits.max_literal)
		CHECK(ret == -1);
	/* a second answer to the same literal is still allowed */
	buf_printf(r->log, "\nLIT %llu %d %d %d %d",
		   (unsigned long long)ev->literal.size, ev->literal.sync,
		   ev->literal.literal8, (int)ev->literal.depth,
		   ret == 1 ? (int)want : (int)ev->literal.action);
	r->streamed = 0;
}

static void on_event(struct run *r, int ret, const struct imap_event *ev)
{
	CHECK((ret < 0) == (ev->type == IMAP_EVENT_BAD));
	switch (ev->type) {
	case IMAP_EVENT_LITERAL:
		on_literal(r, ev);
		break;
	case IMAP_EVENT_LITERAL_DATA:
		CHECK(ev->data_len > 0);
		r->streamed += ev->data_len;
		CHECK(r->streamed <= ev->literal.size);
		buf_append(r->log, ev->data, ev->data_len);
		break;
	case IMAP_EVENT_LITERAL_END:
		CHECK(r->streamed == ev->literal.size);
		buf_puts(r->log, "\nEND");
		break;
	case IMAP_EVENT_COMMAND:
		CHECK(ev->tag != NULL && ev->name != NULL);
		buf_printf(r->log, "\nCMD %s %s", ev->tag, ev->name);
		CHECK(walk_args(ev->args, ev->arg_count, 0, r) <=
		      r->limits.max_args);
		CHECK(imap_parser_at_boundary(r->p));
		if (next_rand(&r->decide) % 4 == 0) {
			CHECK(imap_parser_read_line(r->p) == 1);
		} else {
			imap_parser_done(r->p);
			CHECK(imap_parser_memory(r->p) == r->idle);
		}
		break;
	case IMAP_EVENT_LINE:
		CHECK(ev->data_len <= r->limits.max_raw_line);
		CHECK(ev->data[ev->data_len] == '\0');
		buf_puts(r->log, "\nLINE ");
		buf_append(r->log, ev->data, ev->data_len);
		break;
	case IMAP_EVENT_BAD:
		CHECK(ev->reason != NULL && ev->reason[0] != '\0');
		buf_printf(r->log, "\nBAD %s %s", ev->tag != NULL ? ev->tag : "*",
			   ev->reason);
		break;
	}
}

/* Feed in[0..n) in pieces sized by rnd (0: all at once). */
static void run_feed(const uint8_t *in, size_t n, uint8_t sel,
		     uint32_t decide, uint32_t rnd, struct buf *log)
{
	struct imap_event ev;
	struct run r;
	size_t pos = 0, end, used;
	int ret;

	limits_pick(sel, &r.limits);
	r.p = imap_parser_new(&r.limits);
	r.decide = decide;
	r.log = log;
	r.streamed = 0;
	r.idle = imap_parser_memory(r.p);
	CHECK(r.idle < 1024);
	while (pos < n) {
		end = rnd == 0 ? n : pos + 1 + next_rand(&rnd) % 16;
		if (end > n)
			end = n;
		do {
			ret = imap_parser_feed(r.p, in + pos, end - pos, &used,
					       &ev);
			CHECK(used <= end - pos);
			pos += used;
			CHECK(ret != 0 || pos == end);
			if (ret != 0)
				on_event(&r, ret, &ev);
			/* what one command may hold, all limits together */
			CHECK(imap_parser_memory(r.p) < 200000 +
			      4 * r.limits.max_line + r.limits.max_collect +
			      r.limits.max_raw_line + 160 * r.limits.max_args);
		} while (ret != 0);
	}
	imap_parser_free(&r.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole, pieces;
	uint32_t decide, rnd;

	if (size < 4)
		return 0;
	decide = data[1] | (uint32_t)data[2] << 8;
	rnd = data[3] | 1u;
	buf_init(&whole, 0);
	buf_init(&pieces, 0);
	run_feed(data + 4, size - 4, data[0], decide, 0, &whole);
	run_feed(data + 4, size - 4, data[0], decide, rnd, &pieces);
	CHECK(whole.len == pieces.len &&
	      memcmp(buf_cstr(&whole), buf_cstr(&pieces), whole.len) == 0);
	buf_deinit(&whole);
	buf_deinit(&pieces);
	return 0;
}
