/*
 * client_tui.c - `correio mail` with no command: the full-screen view
 * (ncurses).  Three screens: the folder list, the message index of a
 * folder (N new, ! flagged, r answered) and the pager.  Keys follow mutt
 * where they fit and are always shown on the bottom line:
 *
 *   j/k or arrows  move        Enter  open           q  back / quit
 *   c  change folder           r  reply   g  reply to all   f  forward
 *   m  compose (with attachments)          d  delete   M  move
 *   s  save the attachments    /  search   F  flag / unflag   $  reload
 *
 * Before a message goes, 'a' at the "Send?" question attaches files (to
 * replies and forwards too).
 *
 * Everything goes through client_mailbox.c, so the view works on the
 * offline cache the same way (changes journalled, mail to the outbox).
 * Composing runs $EDITOR with the screen suspended.
 */
#include "client/client_private.h"

#include <curses.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mime/mime.h"

struct tui {
	struct client_account *acct;
	struct client_session s;
	char folder[512];
	struct client_summary *msgs;
	size_t nmsgs, cur, top;
	char filter[256];	/* search words, "" for all */
	char status[1024];
};

static void tui_status(struct tui *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tui_status(struct tui *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->status, sizeof(t->status), fmt, ap);
	va_end(ap);
}

static void draw_bars(struct tui *t, const char *title, const char *keys)
{
	int rows = LINES, cols = COLS;

	attron(A_REVERSE);
	mvhline(0, 0, ' ', cols);
	mvprintw(0, 0, " correio mail: %s  %s%s", t->acct->name, title,
		 t->s.offline ? "  [offline]" : "");
	mvhline(rows - 2, 0, ' ', cols);
	mvaddnstr(rows - 2, 0, keys, cols);
	attroff(A_REVERSE);
	move(rows - 1, 0);
	clrtoeol();
	addnstr(t->status, cols - 1);
}

/* A line of input on the last row ("" when cancelled). */
static void prompt(const char *question, char *out, int size)
{
	move(LINES - 1, 0);
	clrtoeol();
	addstr(question);
	echo();
	curs_set(1);
	if (getnstr(out, size - 1) == ERR)
		out[0] = '\0';
	noecho();
	curs_set(0);
}

static bool confirm(const char *question)
{
	int ch;

	move(LINES - 1, 0);
	clrtoeol();
	addstr(question);
	addstr(" (y/n) ");
	ch = getch();
	return ch == 'y' || ch == 'Y';
}

static int load_index(struct tui *t)
{
	free(t->msgs);
	t->msgs = NULL;
	t->nmsgs = 0;
	if (t->filter[0] != '\0') {
		struct client_query q = { 0 };
		q.text[q.ntext++] = t->filter;
		if (client_mb_search(&t->s, t->folder, &q, &t->msgs, &t->nmsgs) < 0)
			return -1;
	} else if (client_mb_list(&t->s, t->folder, false, 0, &t->msgs, &t->nmsgs) < 0) {
		return -1;
	}
	if (t->cur >= t->nmsgs)
		t->cur = t->nmsgs > 0 ? t->nmsgs - 1 : 0;
	return 1;
}

static void draw_index(struct tui *t)
{
	int rows = LINES - 3;
	struct buf line;
	char title[1024];

	erase();
	if (t->cur < t->top)
		t->top = t->cur;
	if (t->cur >= t->top + (size_t)rows)
		t->top = t->cur - (size_t)rows + 1;
	buf_init(&line, 0);
	for (int i = 0; i < rows && t->top + (size_t)i < t->nmsgs; i++) {
		buf_reset(&line);
		client_summary_line(&t->msgs[t->top + (size_t)i], &line, COLS - 1);
		if (t->top + (size_t)i == t->cur)
			attron(A_REVERSE);
		mvaddnstr(1 + i, 0, buf_cstr(&line), -1);
		if (t->top + (size_t)i == t->cur) {
			attroff(A_REVERSE);
		}
	}
	if (t->nmsgs == 0)
		mvaddstr(2, 2, t->filter[0] ? "No message matches." : "No messages.");
	buf_deinit(&line);
	snprintf(title, sizeof(title), "%s (%zu)%s%s", t->folder, t->nmsgs,
		 t->filter[0] ? "  search: " : "", t->filter);
	draw_bars(t, title, " q:Quit j/k:Move Enter:Open c:Folders m:Mail r:Reply "
		  "g:Reply-all f:Forward d:Delete M:Move s:Save F:Flag /:Search $:Reload");
	refresh();
}

/* ---- composing -------------------------------------------------------------- */

static int run_editor(const char *tmpl, struct buf *body)
{
	int ret;

	def_prog_mode();
	endwin();
	ret = client_edit(tmpl, strlen(tmpl), body);
	reset_prog_mode();
	refresh();
	return ret;
}

/* Send now?  'a' attaches one more file first.  true for yes. */
static bool confirm_send(struct tui *t, struct client_draft *d)
{
	char path[1024];
	int ch;

	for (;;) {
		move(LINES - 1, 0);
		clrtoeol();
		printw("Send the message? (y/n, a: attach a file) [%zu attached] ", d->nfiles);
		ch = getch();
		if (ch == 'y' || ch == 'Y')
			return true;
		if (ch != 'a')
			return false;
		prompt("Attach file: ", path, sizeof(path));
		if (path[0] != '\0' && client_draft_attach_file(d, path) < 0) {
			move(LINES - 2, 0);
			clrtoeol();
			addnstr(client_error(), COLS - 1);
		}
	}
}

/* Edit, confirm, send.  true when sent (or queued in the outbox). */
static bool tui_send(struct tui *t, struct client_draft *d, const char *tmpl)
{
	bool queued;

	if (run_editor(tmpl, &d->body) <= 0) {
		tui_status(t, "Not sent: %s", client_error());
		return false;
	}
	if (!confirm_send(t, d)) {
		tui_status(t, "Not sent.");
		return false;
	}
	if (client_mb_send(&t->s, d, &queued) < 0) {
		tui_status(t, "Not sent: %s", client_error());
		return false;
	}
	tui_status(t, "%s", queued ? "Offline: the message waits in the outbox." : "Sent.");
	return true;
}

static void tui_attach(struct tui *t, struct client_draft *d)
{
	char path[1024];

	for (;;) {
		prompt("Attach file (Enter when done): ", path, sizeof(path));
		if (path[0] == '\0')
			return;
		if (client_draft_attach_file(d, path) < 0)
			tui_status(t, "%s", client_error());
	}
}

static void tui_compose(struct tui *t)
{
	struct client_draft d;
	char to[1024], subject[1024];

	prompt("To: ", to, sizeof(to));
	if (to[0] == '\0')
		return;
	prompt("Subject: ", subject, sizeof(subject));
	client_draft_init(&d);
	str_copy(d.from, t->acct->from, sizeof(d.from));
	buf_puts(&d.to, to);
	str_copy(d.subject, subject, sizeof(d.subject));
	tui_attach(t, &d);
	tui_send(t, &d, "");
	client_draft_deinit(&d);
}

static void quote(const struct client_view *v, struct buf *out)
{
	struct buf h;
	bool bol = true;

	buf_init(&h, 0);
	client_view_header(v, "From", &h);
	buf_printf(out, "\n%s wrote:\n", buf_cstr(&h));
	buf_deinit(&h);
	for (size_t i = 0; i < v->text.len; i++) {
		if (bol)
			buf_puts(out, "> ");
		buf_putc(out, v->text.data[i]);
		bol = v->text.data[i] == '\n';
	}
}

static void reply_to(const struct client_view *v, bool all, const struct client_account *a,
		     struct client_draft *d)
{
	struct buf h, id;

	buf_init(&h, 0);
	buf_init(&id, 0);
	if (client_view_header(v, "Reply-To", &h) <= 0)
		client_view_header(v, "From", &h);
	buf_puts(&d->to, buf_cstr(&h));
	for (int i = 0; all && i < 2; i++) {
		char **addr;
		size_t n;
		buf_reset(&h);
		client_view_header(v, i == 0 ? "To" : "Cc", &h);
		client_addresses(buf_cstr(&h), &addr, &n);
		for (size_t k = 0; k < n; k++) {
			if (strcasecmp(addr[k], a->user) == 0 ||
			    strcasestr(buf_cstr(&d->to), addr[k]) != NULL ||
			    strcasestr(buf_cstr(&d->cc), addr[k]) != NULL)
				continue;
			buf_printf(&d->cc, "%s%s", d->cc.len ? ", " : "", addr[k]);
		}
		client_strv_free(addr, n);
	}
	buf_reset(&h);
	client_view_header(v, "Subject", &h);
	snprintf(d->subject, sizeof(d->subject), "%s%s",
		 strncasecmp(buf_cstr(&h), "Re:", 3) == 0 ? "" : "Re: ", buf_cstr(&h));
	if (mime_header_get(v->msg, mime_message_root(v->msg), "Message-ID", &id) > 0) {
		str_copy(d->in_reply_to, buf_cstr(&id), sizeof(d->in_reply_to));
		buf_puts(&d->references, buf_cstr(&id));
	}
	buf_deinit(&h);
	buf_deinit(&id);
}

/* r, g, f on message t->cur */
static void tui_respond(struct tui *t, int key)
{
	struct client_summary *m;
	struct client_view v;
	struct client_draft d;
	struct buf data, tmpl;
	unsigned flags;

	if (t->nmsgs == 0)
		return;
	m = &t->msgs[t->cur];
	if (client_mb_view(&t->s, t->folder, m->n, false, &data, &v, &flags) < 0) {
		tui_status(t, "%s", client_error());
		return;
	}
	client_draft_init(&d);
	buf_init(&tmpl, 0);
	str_copy(d.from, t->acct->from, sizeof(d.from));
	if (key == 'f') {
		char to[1024];
		struct buf att;
		prompt("Forward to: ", to, sizeof(to));
		buf_puts(&d.to, to);
		snprintf(d.subject, sizeof(d.subject), "Fwd: %s", m->subject);
		buf_puts(&tmpl, "\n---------- Forwarded message ----------\n");
		buf_append(&tmpl, v.text.data != NULL ? v.text.data : "", v.text.len);
		buf_init(&att, 0);
		for (size_t i = 0; i < v.natt; i++) {
			buf_reset(&att);
			if (v.att[i].part != NULL && client_view_attachment(&v, i, &att) > 0)
				client_draft_attach(&d, v.att[i].name[0] ? v.att[i].name
					: "attachment", v.att[i].type,
					att.data != NULL ? att.data : "", att.len);
		}
		buf_deinit(&att);
	} else {
		reply_to(&v, key == 'g', t->acct, &d);
		quote(&v, &tmpl);
	}
	if (d.to.len > 0 && tui_send(t, &d, buf_cstr(&tmpl)) && key != 'f') {
		client_mb_flags(&t->s, t->folder, m->n, CLIENT_F_ANSWERED, 0);
		m->flags |= CLIENT_F_ANSWERED;
	}
	buf_deinit(&tmpl);
	client_draft_deinit(&d);
	client_mb_view_close(&v, &data);
}

static void tui_save(struct tui *t)
{
	struct client_view v;
	struct buf data, report;
	char dir[1024];
	unsigned flags;

	if (t->nmsgs == 0)
		return;
	prompt("Save attachments into directory: ", dir, sizeof(dir));
	if (dir[0] == '\0')
		return;
	if (client_mb_view(&t->s, t->folder, t->msgs[t->cur].n, false, &data, &v, &flags) < 0) {
		tui_status(t, "%s", client_error());
		return;
	}
	buf_init(&report, 0);
	if (client_view_save(&v, dir, false, &report) < 0)
		tui_status(t, "%s", client_error());
	else {
		char *nl;
		while ((nl = strchr(buf_cstr(&report), '\n')) != NULL && nl[1] != '\0')
			*nl = ' ';
		if ((nl = strchr(buf_cstr(&report), '\n')) != NULL)
			*nl = '\0';
		tui_status(t, "Saved: %s", buf_cstr(&report));
	}
	buf_deinit(&report);
	client_mb_view_close(&v, &data);
}

/* ---- the pager ------------------------------------------------------------------ */

/* Cut text (modified) into lines: a malloc'd array of pointers into it. */
static const char **split_lines(char *text, size_t *n_r)
{
	const char **lines = NULL;
	size_t n = 0;

	for (char *p = text; p != NULL && *p != '\0';) {
		char *nl = strchr(p, '\n');
		lines = xrealloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	*n_r = n;
	return lines;
}

static void pager(struct tui *t)
{
	struct client_view v;
	struct buf data, text, shown;
	unsigned flags;
	size_t top = 0, nlines = 0;
	const char **lines = NULL;

	if (client_mb_view(&t->s, t->folder, t->msgs[t->cur].n, true, &data, &v, &flags) < 0) {
		tui_status(t, "%s", client_error());
		return;
	}
	t->msgs[t->cur].flags |= CLIENT_F_SEEN;
	buf_init(&text, 0);
	buf_init(&shown, 0);
	client_view_render(&v, &text);
	client_to_terminal(text.data != NULL ? text.data : "", text.len, &shown);
	lines = split_lines(shown.data, &nlines);
	for (;;) {
		int rows = LINES - 3, ch;
		erase();
		for (int i = 0; i < rows && top + (size_t)i < nlines; i++)
			mvaddnstr(1 + i, 0, lines[top + (size_t)i], COLS);
		draw_bars(t, t->msgs[t->cur].subject, " q:Index  j/k:Line  Space/b:Page  "
			  "r:Reply  g:Reply-all  f:Forward  s:Save attachments  d:Delete");
		refresh();
		ch = getch();
		t->status[0] = '\0';
		if (ch == 'q' || ch == 'i')
			break;
		if ((ch == 'j' || ch == KEY_DOWN || ch == '\n') && top + 1 < nlines)
			top++;
		else if ((ch == 'k' || ch == KEY_UP) && top > 0)
			top--;
		else if (ch == ' ' || ch == KEY_NPAGE)
			top = top + (size_t)rows < nlines ? top + (size_t)rows : top;
		else if (ch == 'b' || ch == KEY_PPAGE)
			top = top > (size_t)rows ? top - (size_t)rows : 0;
		else if (ch == 'r' || ch == 'g' || ch == 'f')
			tui_respond(t, ch);
		else if (ch == 's')
			tui_save(t);
		else if (ch == 'd') {
			if (confirm("Delete this message?") &&
			    client_mb_delete(&t->s, t->folder, t->msgs[t->cur].n) > 0) {
				tui_status(t, "Deleted.");
				load_index(t);
				break;
			}
		}
	}
	free(lines);
	buf_deinit(&shown);
	buf_deinit(&text);
	client_mb_view_close(&v, &data);
}

/* ---- folders ------------------------------------------------------------------ */

static void choose_folder(struct tui *t)
{
	char **names;
	size_t n, cur = 0;

	if (client_mb_folders(&t->s, &names, &n) < 0) {
		tui_status(t, "%s", client_error());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], t->folder) == 0)
			cur = i;
	for (;;) {
		int ch;
		erase();
		for (size_t i = 0; i < n && (int)i < LINES - 3; i++) {
			if (i == cur)
				attron(A_REVERSE);
			mvprintw(1 + (int)i, 2, "%s", names[i]);
			if (i == cur)
				attroff(A_REVERSE);
		}
		draw_bars(t, "Folders", " q:Back  j/k:Move  Enter:Open");
		refresh();
		ch = getch();
		if (ch == 'q')
			break;
		if ((ch == 'j' || ch == KEY_DOWN) && cur + 1 < n)
			cur++;
		else if ((ch == 'k' || ch == KEY_UP) && cur > 0)
			cur--;
		else if ((ch == '\n' || ch == KEY_ENTER) && n > 0) {
			str_copy(t->folder, names[cur], sizeof(t->folder));
			t->cur = t->top = 0;
			t->filter[0] = '\0';
			break;
		}
	}
	client_strv_free(names, n);
	if (load_index(t) < 0)
		tui_status(t, "%s", client_error());
}

static void tui_move(struct tui *t)
{
	char dest[512];

	if (t->nmsgs == 0)
		return;
	prompt("Move to folder: ", dest, sizeof(dest));
	if (dest[0] == '\0')
		return;
	if (client_mb_move(&t->s, t->folder, t->msgs[t->cur].n, dest) < 0)
		tui_status(t, "%s", client_error());
	else
		tui_status(t, "Moved to %s.", dest);
	load_index(t);
}

static void tui_flag(struct tui *t)
{
	struct client_summary *m;

	if (t->nmsgs == 0)
		return;
	m = &t->msgs[t->cur];
	bool on = !(m->flags & CLIENT_F_FLAGGED);
	if (client_mb_flags(&t->s, t->folder, m->n, on ? CLIENT_F_FLAGGED : 0,
			    on ? 0 : CLIENT_F_FLAGGED) < 0)
		tui_status(t, "%s", client_error());
	else
		m->flags ^= CLIENT_F_FLAGGED;
}

static void index_loop(struct tui *t)
{
	for (;;) {
		int ch;
		draw_index(t);
		ch = getch();
		t->status[0] = '\0';
		switch (ch) {
		case 'q':
			return;
		case 'j': case KEY_DOWN:
			if (t->cur + 1 < t->nmsgs)
				t->cur++;
			break;
		case 'k': case KEY_UP:
			if (t->cur > 0)
				t->cur--;
			break;
		case '\n': case KEY_ENTER:
			if (t->nmsgs > 0) {
				pager(t);
				load_index(t);
			}
			break;
		case '$':
			if (load_index(t) < 0)
				tui_status(t, "%s", client_error());
			break;
		case 'c':
			choose_folder(t);
			break;
		case 'm':
			tui_compose(t);
			break;
		case 'r': case 'g': case 'f':
			tui_respond(t, ch);
			load_index(t);
			break;
		case 's':
			tui_save(t);
			break;
		case 'M':
			tui_move(t);
			break;
		case 'F':
			tui_flag(t);
			break;
		case 'd':
			if (t->nmsgs > 0 && confirm("Delete this message?")) {
				if (client_mb_delete(&t->s, t->folder, t->msgs[t->cur].n) < 0)
					tui_status(t, "%s", client_error());
				load_index(t);
			}
			break;
		case '/':
			prompt("Search (empty: all): ", t->filter, sizeof(t->filter));
			t->cur = t->top = 0;
			if (load_index(t) < 0)
				tui_status(t, "%s", client_error());
			break;
		}
	}
}

int client_tui(struct client_account *a, bool offline)
{
	struct tui t = { .acct = a };

	if (client_session_open(&t.s, a, offline) < 0)
		return -1;
	str_copy(t.folder, "INBOX", sizeof(t.folder));
	if (load_index(&t) < 0) {
		client_session_close(&t.s);
		return -1;
	}
	setlocale(LC_CTYPE, "");
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	index_loop(&t);
	endwin();
	free(t.msgs);
	client_session_close(&t.s);
	return 1;
}
