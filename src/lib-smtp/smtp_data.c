/*
 * smtp_data.c - the DATA / BDAT message text filter.
 *
 * Called by the SMTP server session with whatever bytes arrived after DATA
 * or inside a BDAT chunk; appends the stored form (LF line endings, dots
 * unstuffed) to a buffer the session flushes to the spool.  Pure and
 * incremental: any split of the input gives the same output.
 *
 * Limits: line_len counts the wire octets of a line (a stuffed dot
 * included, the CRLF or LF excluded); a line longer than max_line sets the
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
 * States (a "line start" is the start of data or the byte after a line
 * ending; only a CRLF line start can begin the end marker):
 *
 *   LINE_START  "."  -> DOT (dot dropped)   CR -> CR (held)
 *               LF   -> BARE_START          other -> TEXT
 *   BARE_START  "."  -> TEXT (dot dropped)  else as LINE_START
 *   TEXT        CR   -> CR (held)  LF -> BARE_START  other -> TEXT
 *   CR          LF   -> LINE_START (emit LF)
 *               CR   -> CR (emit the older CR)
 *               other -> TEXT (emit CR and it)
 *   DOT         CR   -> DOT_CR (held)       else as TEXT
 *   DOT_CR      LF   -> DONE                else as CR
 *
 * Without dots (BDAT) a "." is never special: only TEXT and CR matter.
 */

/* A byte inside a line (TEXT, or a line start that is not a dot). */
static int data_text(struct smtp_data *d, char c, struct buf *out)
{
	if (c == '\r')
		return data_emit(d, NULL, 0, SMTP_DATA_CR, out);
	if (c == '\n') {
		if (data_emit(d, "\n", 1, SMTP_DATA_BARE_START, out) < 0)
			return -1;
		d->line_len = 0;
		return 1;
	}
	if (data_emit(d, &c, 1, SMTP_DATA_TEXT, out) < 0)
		return -1;
	line_add(d, 1);
	return 1;
}

/* A byte after a held CR. */
static int data_cr(struct smtp_data *d, char c, struct buf *out)
{
	char pair[2] = { '\r', c };

	if (c == '\n') {
		if (data_emit(d, "\n", 1, SMTP_DATA_LINE_START, out) < 0)
			return -1;
		d->line_len = 0;
		return 1;
	}
	if (c == '\r') {
		if (data_emit(d, "\r", 1, SMTP_DATA_CR, out) < 0)
			return -1;
		line_add(d, 1);
		return 1;
	}
	if (data_emit(d, pair, 2, SMTP_DATA_TEXT, out) < 0)
		return -1;
	line_add(d, 2);
	return 1;
}

/*
 * A byte at a line start.  The dot of a possible end marker is counted
 * but not checked against max_line: the marker is no line of the message.
 */
static int data_line_start(struct smtp_data *d, char c, struct buf *out)
{
	if (c != '.' || !d->dots)
		return data_text(d, c, out);
	if (d->state == SMTP_DATA_BARE_START) {
		d->state = SMTP_DATA_TEXT;
		line_add(d, 1);
	} else {
		d->state = SMTP_DATA_DOT;
		d->line_len = 1;
	}
	return 1;
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
	if (data_emit(d, "\r", 1, SMTP_DATA_TEXT, out) < 0)
		return -1;
	line_add(d, 1);
	return 1;
}
