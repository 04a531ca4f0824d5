/*
 * smtp_data.c - the DATA / BDAT message text filter.
 *
 * Called by the SMTP server session with whatever bytes arrived after DATA
 * or inside a BDAT chunk; appends the stored form (LF line endings, dots
 * unstuffed, bare CR and bare LF made line ends) to a buffer the session
 * flushes to the spool.  Pure and incremental: any split of the input
 * gives the same output.
 *
 * Limits: line_len counts the wire octets of a line (a stuffed dot
 * included, the line end excluded); a line longer than max_line sets the
 * sticky line_too_long flag and is still passed through, so the session can
 * refuse the message after reading it all.  One CR may be held back between
 * calls, so one call can append n + 1 bytes.
 */
#include "smtp_data.h"

void smtp_data_init(struct smtp_data *d, bool dots, size_t max_line)
{
	d->state = dots ? SMTP_DATA_LINE_START : SMTP_DATA_TEXT;
	d->dots = dots;
	d->max_line = max_line;
	d->line_len = 0;
	d->line_too_long = false;
	d->octets = 0;
}

static void line_add(struct smtp_data *d, size_t n)
{
	d->line_len = d->line_len > SIZE_MAX - n ? SIZE_MAX : d->line_len + n;
	if (d->line_len > d->max_line)
		d->line_too_long = true;
}

/* Append p[0..n) and move to state next; nothing changes on failure. */
static int data_emit(struct smtp_data *d, const char *p, size_t n,
		     enum smtp_data_state next, struct buf *out)
{
	if (n > 0 && buf_append(out, p, n) < 0)
		return -1;
	d->state = next;
	return 1;
}

/*
 * RFC 5321 §4.1.1.4 and §4.5.2:
 *
 *   The mail data are terminated by a line containing only a period, that
 *   is, the character sequence "<CRLF>.<CRLF>", where the first <CRLF> is
 *   actually the terminator of the previous line.
 *
 *   When a line of mail text is received by the SMTP server, it checks the
 *   line.  If the line is composed of a single period, it is treated as the
 *   end of mail indicator.  If the first character is a period and there
 *   are other characters on the line, the first character is deleted.
 *
 * RFC 3030 §2 (BDAT): chunk-size octets of data follow, with no dot
 * stuffing and no end marker in the data.
 *
 * A bare CR or a bare LF ends a line too: stored as LF like a CRLF, so
 * that only CRLF-terminated lines go onward (as Postfix 3.9 normalises
 * them), but never the data.  The line after one is no CRLF line start:
 * a dot there is text, kept (a sender that stuffs dots sends CRLF).
 *
 * States (a "line start" is the start of data or the byte after a line
 * ending; only a CRLF line start can begin the end marker):
 *
 *   LINE_START  "."  -> DOT (dot dropped)   CR -> CR (held)
 *               LF   -> BARE_START (emit LF)  other -> TEXT
 *   BARE_START  "."  -> TEXT (dot kept)     else as LINE_START
 *   TEXT        CR   -> CR (held)  LF -> BARE_START (emit LF)  other -> TEXT
 *   CR          LF   -> LINE_START (emit LF)
 *               CR   -> CR (emit LF: the older CR was bare)
 *               other -> emit LF, then it as at BARE_START
 *   DOT         CR   -> DOT_CR (held)       else as TEXT
 *   DOT_CR      LF   -> DONE                else as CR
 *
 * Without dots (BDAT) a "." is never special: only TEXT and CR matter.
 */

/* End the current line with a stored LF; next is the state after it. */
static int data_line_end(struct smtp_data *d, enum smtp_data_state next,
			 struct buf *out)
{
	if (data_emit(d, "\n", 1, next, out) < 0)
		return -1;
	d->line_len = 0;
	return 1;
}

/* A byte inside a line (TEXT, or a line start that is not a dot). */
static int data_text(struct smtp_data *d, char c, struct buf *out)
{
	if (c == '\r')
		return data_emit(d, NULL, 0, SMTP_DATA_CR, out);
	if (c == '\n')
		return data_line_end(d, SMTP_DATA_BARE_START, out);
	if (data_emit(d, &c, 1, SMTP_DATA_TEXT, out) < 0)
		return -1;
	line_add(d, 1);
	return 1;
}

/*
 * A byte at a line start.  The dot of a possible end marker is counted
 * but not checked against max_line: the marker is no line of the message.
 */
static int data_line_start(struct smtp_data *d, char c, struct buf *out)
{
	if (c != '.' || !d->dots || d->state == SMTP_DATA_BARE_START)
		return data_text(d, c, out);
	d->state = SMTP_DATA_DOT;
	d->line_len = 1;
	return 1;
}

/*
 * A byte after a held CR.  Anything but LF makes that CR a bare one: the
 * line ends there, and c is the first byte of the next line (if out
 * refuses c, the state is already BARE_START and c may be fed again).
 */
static int data_cr(struct smtp_data *d, char c, struct buf *out)
{
	if (c == '\n')
		return data_line_end(d, SMTP_DATA_LINE_START, out);
	if (data_line_end(d, SMTP_DATA_BARE_START, out) < 0)
		return -1;
	if (c == '\r')
		return data_emit(d, NULL, 0, SMTP_DATA_CR, out);
	return data_line_start(d, c, out);
}

static int data_byte(struct smtp_data *d, char c, struct buf *out)
{
	switch (d->state) {
	case SMTP_DATA_LINE_START:
	case SMTP_DATA_BARE_START:
		return data_line_start(d, c, out);
	case SMTP_DATA_TEXT:
		return data_text(d, c, out);
	case SMTP_DATA_CR:
		return data_cr(d, c, out);
	case SMTP_DATA_DOT:
		if (c == '\r')
			return data_emit(d, NULL, 0, SMTP_DATA_DOT_CR, out);
		return data_text(d, c, out);
	case SMTP_DATA_DOT_CR:
		if (c != '\n')
			return data_cr(d, c, out);
		d->state = SMTP_DATA_DONE;
		d->line_len = 0;
		return 1;
	case SMTP_DATA_DONE:
		break;
	}
	return -1;
}

/* The run of plain text bytes at in[0..n) (no CR, no LF). */
static size_t text_run(const char *in, size_t n)
{
	size_t i = 0;

	while (i < n && in[i] != '\r' && in[i] != '\n')
		i++;
	return i;
}

/* Consume at least one byte of in.  Returns the count, or 0 if out is full. */
static size_t data_step(struct smtp_data *d, const char *in, size_t n,
			struct buf *out)
{
	size_t run;

	if (d->state == SMTP_DATA_TEXT && (run = text_run(in, n)) > 0) {
		if (buf_append(out, in, run) < 0)
			return 0;
		line_add(d, run);
		return run;
	}
	return data_byte(d, in[0], out) < 0 ? 0 : 1;
}

int smtp_data_feed(struct smtp_data *d, const char *in, size_t n,
		   size_t *consumed_r, struct buf *out)
{
	size_t i = 0, used = 1;

	while (i < n && d->state != SMTP_DATA_DONE &&
	       (used = data_step(d, in + i, n - i, out)) > 0)
		i += used;
	d->octets += i;
	*consumed_r = i;
	if (used == 0)
		return -1;
	if (d->state == SMTP_DATA_DONE)
		return 1;
	return 0;
}

int smtp_data_finish(struct smtp_data *d, struct buf *out)
{
	if (d->state != SMTP_DATA_CR && d->state != SMTP_DATA_DOT_CR)
		return 1;
	/* a CR at the very end is a bare one: it ends the last line */
	return data_line_end(d, SMTP_DATA_BARE_START, out);
}

/* ---- the other direction: stored text to the wire (the relay) ---- */

void smtp_data_out_init(struct smtp_data_out *o, bool dots)
{
	o->dots = dots;
	o->line_start = true;
	o->cr = false;
	o->octets = 0;
}

static int out_add(struct smtp_data_out *o, const char *p, size_t n, struct buf *out)
{
	o->octets += n;
	return out == NULL || buf_append(out, p, n) >= 0 ? 1 : -1;
}

/* One line end on the wire, whatever ended the line in the store. */
static int out_line_end(struct smtp_data_out *o, struct buf *out)
{
	o->line_start = true;
	return out_add(o, "\r\n", 2, out);
}

/*
 * RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client
 * checks the first character of the line.  If it is a period, one
 * additional period is inserted at the beginning of the line."  And
 * §2.3.8: lines end in CRLF, never a bare CR or LF.  A CR is sent as
 * CRLF at once; an LF right after it (in this call or the next) is then
 * part of that line end.
 */
int smtp_data_out_feed(struct smtp_data_out *o, const char *in, size_t n,
		       struct buf *out)
{
	size_t i = 0, run;

	while (i < n) {
		char c = in[i];
		bool after_cr = o->cr;

		o->cr = c == '\r';
		if (c == '\r' || c == '\n') {
			if (!(c == '\n' && after_cr) && out_line_end(o, out) < 0)
				return -1;
			i++;
			continue;
		}
		if (o->line_start && c == '.' && o->dots && out_add(o, ".", 1, out) < 0)
			return -1;
		o->line_start = false;
		for (run = 1; i + run < n && in[i + run] != '\r' && in[i + run] != '\n'; run++)
			;
		if (out_add(o, in + i, run, out) < 0)
			return -1;
		i += run;
	}
	return 1;
}

int smtp_data_out_finish(struct smtp_data_out *o, struct buf *out)
{
	if (!o->dots)
		return 1;
	if (!o->line_start && out_line_end(o, out) < 0)
		return -1;
	return out_add(o, ".\r\n", 3, out);
}
