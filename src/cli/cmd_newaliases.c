/*
 * cmd_newaliases.c - newaliases (the binary called by that name, `sendmail
 * -bi`, `correio newaliases`): import the aliases(5) file, /etc/aliases
 * unless -oA FILE or FILE names another, into the alias store for the
 * local domains, and say what was done with every entry.
 *
 * A name without a domain ("postmaster") is an alias in every local
 * domain, and a target without one ("root") is the address of that name
 * in the same domain.  Left out, with the reason: pipes to commands, files
 * and :include: lists (correio delivers to mailboxes and addresses only),
 * names in other domains, names that are accounts (the alias would take
 * their mail), local targets that name nobody (neither an account nor an
 * alias, here or among the file's entries that keep a target: a chain
 * that ends nowhere is left out whole), and aliases that would loop.  Imported
 * pairs stay when run again ("already there"); nothing is removed.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "lib/buf.h"
#include "lib/util.h"

#define NEWALIASES_FILE_MAX (16u << 20)

static const char newaliases_usage[] =
	"usage: newaliases [-oA FILE | -oAFILE] [-C CONFIG]\n"
	"       correio newaliases [FILE]\n"
	"       sendmail -bi [-oA FILE]\n\n"
	"Import the aliases file (default /etc/aliases) into correio's alias store\n"
	"for every local domain: \"name: target, target\" becomes name@DOMAIN ->\n"
	"targets, a target without a domain being an address of that domain.\n"
	"Pipes (|command), files (/path) and :include: lists are skipped (correio\n"
	"delivers to mailboxes and addresses only), as are names of other domains,\n"
	"names that are accounts, local targets that name nobody and aliases that\n"
	"would loop; each is reported with its reason.  Running it again adds\n"
	"what is new and removes nothing (`correio alias del` does).  Exit status\n"
	"1 when the file could not be read or has lines that are not entries.\n";

struct import {
	const struct config *cfg;
	struct accounts *a;
	const char *file;
	struct buf domains;		/* local domains, NUL-separated */
	struct buf ok;			/* aliases of the file that will have a
					   target, NUL-separated, lower case */
	bool planning;			/* a pass that only finds them */
	bool changed;
	unsigned added, present, skipped, bad;
	bool store_error;
};

static void add_domain(void *ctx, const char *domain)
{
	struct import *im = ctx;

	for (const char *d = im->domains.data; d != NULL && d < im->domains.data +
	     im->domains.len; d += strlen(d) + 1)
		if (strcasecmp(d, domain) == 0)
			return;
	buf_puts(&im->domains, domain);
	buf_putc(&im->domains, '\0');
	str_lower(im->domains.data + im->domains.len - strlen(domain) - 1);
}

/* local_domains of the configuration, then `correio domain add`'s. */
static int collect_domains(struct import *im)
{
	char d[256];

	for (const char *p = im->cfg->local_domains; *p != '\0';) {
		size_t n = strcspn(p, ", \t");
		if (n > 0 && n < sizeof(d)) {
			memcpy(d, p, n);
			d[n] = '\0';
			add_domain(im, d);
		}
		p += n;
		p += strspn(p, ", \t");
	}
	return accounts_domain_list(im->a, add_domain, im);
}

static bool in_list(const struct buf *list, const char *s)
{
	for (const char *p = list->data; p != NULL && p < list->data + list->len;
	     p += strlen(p) + 1)
		if (strcasecmp(p, s) == 0)
			return true;
	return false;
}

static void skip(struct import *im, unsigned line, const char *what, const char *why)
{
	if (im->planning)
		return;
	printf("%s:%u: skipped ", im->file, line);
	cli_print_visible(what, false);
	fputs(": ", stdout);
	cli_print_visible(why, false);
	putchar('\n');
	im->skipped++;
}

static void count_target(void *ctx, const struct resolve_target *t)
{
	(void)t;
	(*(unsigned *)ctx)++;
}

/* Does local target (lower case) name somebody, here or among the
   aliases of the file that will have a target? */
static int names_somebody(struct import *im, const char *target)
{
	unsigned n = 0;
	int ret;

	if (in_list(&im->ok, target))
		return 1;
	ret = resolve_address(im->cfg, im->a, target, count_target, &n);
	return ret < 0 && ret != RESOLVE_LOOP ? -1 : n > 0;
}

/* The target of one value in domain, into out; 1, or 0 after a skip. */
static int target_of(struct import *im, const struct aliases_entry *en, const char *alias,
		     const char *value, const char *domain, char *out, size_t size)
{
	static const char *const kinds[] = {
		[ALIASES_PIPE] = "a pipe to a command",
		[ALIASES_FILE] = "a file",
		[ALIASES_INCLUDE] = "an :include: list",
	};
	enum aliases_kind kind = aliases_value_kind(value);
	const char *error, *at;
	char what[800];
	int ret;

	snprintf(what, sizeof(what), "%s -> %s", alias, value);
	if (kind != ALIASES_ADDRESS) {
		snprintf(out, size, "%s (correio delivers to mailboxes and addresses only)",
			 kinds[kind]);
		skip(im, en->line, what, out);
		return 0;
	}
	snprintf(out, size, strchr(value, '@') != NULL ? "%s" : "%s@%s", value, domain);
	str_lower(out);
	if (accounts_check(ACCOUNTS_KIND_TARGET, out, &error) < 0) {
		skip(im, en->line, what, error);
		return 0;
	}
	at = strrchr(out, '@');
	if ((ret = cli_domain_is_local(im->cfg, im->a, at + 1)) > 0)
		ret = names_somebody(im, out);
	if (ret < 0) {
		im->store_error = true;
		return 0;
	}
	if (ret == 0 && cli_domain_is_local(im->cfg, im->a, at + 1) > 0) {
		char why[600];
		snprintf(why, sizeof(why), "%s is neither an account nor an alias", out);
		skip(im, en->line, what, why);
		return 0;
	}
	return 1;
}

/* Store alias -> targets (after the checks of `correio alias add`). */
static void store_alias(struct import *im, const struct aliases_entry *en,
			const char *alias, char **targets, int n)
{
	char loop[RESOLVE_LOOP_TEXT_MAX], why[RESOLVE_LOOP_TEXT_MAX + 40];
	const char *error;
	int ret;

	if ((ret = resolve_alias_check(im->cfg, im->a, alias, targets, n, loop)) ==
	    RESOLVE_LOOP) {
		snprintf(why, sizeof(why), "an alias loop: %s", loop);
		skip(im, en->line, alias, why);
		return;
	}
	if (ret < 0) {
		im->store_error = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		ret = accounts_alias_add(im->a, alias, targets[i], &error);
		if (ret > 0) {
			printf("%s -> %s: added\n", alias, targets[i]);
			im->added++;
		} else if (strstr(error, "already exists") != NULL) {
			im->present++;
		} else {
			skip(im, en->line, alias, error);
		}
	}
}

static void import_in_domain(struct import *im, const struct aliases_entry *en,
			     const char *name, const char *domain)
{
	char alias[ALIASES_NAME_MAX + 256], *targets[ALIASES_VALUES_MAX];
	char out[512];
	struct account acct;
	const char *error;
	int n = 0, ret;

	snprintf(alias, sizeof(alias), "%s@%s", name, domain);
	str_lower(alias);
	if (accounts_check(ACCOUNTS_KIND_ALIAS, alias, &error) < 0) {
		skip(im, en->line, alias, error);
		return;
	}
	if ((ret = accounts_user_get(im->a, alias, &acct)) != 0) {
		if (ret > 0)
			skip(im, en->line, alias,
			     "it is an account: an alias would take all its mail");
		else
			im->store_error = true;
		return;
	}
	for (unsigned i = 0; i < en->n_values && !im->store_error; i++) {
		if (target_of(im, en, alias, en->values[i], domain, out, sizeof(out)) <= 0)
			continue;
		targets[n] = xstrdup(out);
		n++;
	}
	if (n > 0 && im->planning && !in_list(&im->ok, alias)) {
		buf_puts(&im->ok, alias);
		buf_putc(&im->ok, '\0');
		im->changed = true;
	} else if (n > 0 && !im->planning && !im->store_error) {
		store_alias(im, en, alias, targets, n);
	}
	while (n > 0)
		free(targets[--n]);
}

static void on_entry(void *ctx, const struct aliases_entry *en)
{
	struct import *im = ctx;
	char name[ALIASES_NAME_MAX];
	const char *at;

	if (im->store_error)
		return;
	if (en->error != NULL) {
		if (!im->planning) {
			printf("%s:%u: not an entry: %s\n", im->file, en->line, en->error);
			im->bad++;
		}
		return;
	}
	str_copy(name, en->name, sizeof(name));
	str_lower(name);
	if ((at = strrchr(name, '@')) != NULL) {
		int local;
		if (at == name) {
			/* "@domain" is a catch-all in correio's alias store, and
			   nothing in aliases(5): never made by accident */
			skip(im, en->line, name, "no local part (a catch-all is made with "
			     "`correio alias add @DOMAIN TARGET`)");
			return;
		}
		local = cli_domain_is_local(im->cfg, im->a, at + 1);
		if (local <= 0) {
			if (local < 0)
				im->store_error = true;
			else
				skip(im, en->line, name, "its domain is not a local domain");
			return;
		}
		name[at - name] = '\0';
		import_in_domain(im, en, name, at + 1);
		return;
	}
	for (const char *d = im->domains.data; d < im->domains.data + im->domains.len;
	     d += strlen(d) + 1)
		import_in_domain(im, en, name, d);
}

/* The file's text into out.  1, or -1 after printing why. */
static int read_file(const char *path, struct buf *out)
{
	char block[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		cli_error("newaliases", "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(block, 1, sizeof(block), f)) > 0) {
		if (buf_append(out, block, n) < 0) {
			cli_error("newaliases", "%s is too big", path);
			fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		cli_error("newaliases", "cannot read %s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 1;
}

/*
 * Which aliases of the file will have a target: those with a target that
 * is remote, names somebody here, or is such an alias; found pass by pass
 * (a chain of aliases deeper than delivery follows is not worth more),
 * then the pass that stores and reports.
 */
static void import_file(struct import *im, const struct buf *text)
{
	im->planning = true;
	for (unsigned pass = 0; pass <= RESOLVE_MAX_DEPTH && !im->store_error; pass++) {
		im->changed = false;
		aliases_parse(text->data, text->len, on_entry, im);
		if (!im->changed)
			break;
	}
	im->planning = false;
	aliases_parse(text->data, text->len, on_entry, im);
}

/* -oA FILE, -oAFILE, FILE; -C was taken by main.c.  NULL: a bad option. */
static const char *file_option(int argc, char **argv, bool *help)
{
	const char *file = "/etc/aliases";

	*help = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
			*help = true;
		else if (strcmp(o, "-oA") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(o, "-oA", 3) == 0 && o[3] != '\0')
			file = o + 3;
		else if (strcmp(o, "-C") == 0 && i + 1 < argc)
			i++;
		else if (strncmp(o, "-C", 2) == 0 || strcmp(o, "-bi") == 0 ||
			 strcmp(o, "-v") == 0 || (o[0] == '-' && o[1] == 'o'))
			continue;	/* sendmail's: taken elsewhere or of no use here */
		else if (o[0] != '-')
			file = o;
		else
			return NULL;
	}
	return file;
}

int cmd_newaliases(int argc, char **argv, struct config *cfg)
{
	struct import im = { .cfg = cfg };
	struct buf text;
	bool help;
	int status = 0;

	if ((im.file = file_option(argc, argv, &help)) == NULL || help) {
		fputs(newaliases_usage, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	buf_init(&text, NEWALIASES_FILE_MAX);
	/* read before the store is opened: that may drop root's privileges */
	if (read_file(im.file, &text) < 0) {
		buf_deinit(&text);
		return 1;
	}
	if (cli_open_accounts(cfg, &im.a) < 0) {
		buf_deinit(&text);
		return 1;
	}
	buf_init(&im.domains, 1 << 20);
	buf_init(&im.ok, 64 << 20);
	if (collect_domains(&im) < 0)
		im.store_error = true;
	else
		import_file(&im, &text);
	if (im.store_error) {
		cli_error("newaliases", "cannot read or write the account store");
		status = 1;
	} else {
		printf("newaliases: %s: %u alias target(s) added, %u already there, "
		       "%u skipped, %u line(s) not entries; local domains:", im.file,
		       im.added, im.present, im.skipped, im.bad);
		for (const char *d = im.domains.data; d < im.domains.data + im.domains.len;
		     d += strlen(d) + 1)
			printf(" %s", d);
		printf("\n");
		status = im.bad > 0;
	}
	accounts_free(&im.a);
	buf_deinit(&im.domains);
	buf_deinit(&im.ok);
	buf_deinit(&text);
	return status;
}
