/*
 * store_name.c - folder names: checking, the Maildir++ directory name of a
 * folder and back.
 *
 * A folder name is UTF-8 with '/' between hierarchy levels; "INBOX" in any
 * case is the INBOX and is written upper case.  Rules: not empty, no empty
 * level ("a//b", "/a", "a/"), valid UTF-8 (no overlong forms, no
 * surrogates), no control characters, at most STORE_NAME_MAX bytes.
 *
 * On disk a folder is the directory "." + its levels joined by '.', each
 * level escaped: '%', '.', '/', bytes below 0x20 and 0x7f become "%XX"
 * with two upper-case hex digits; every other byte (all of UTF-8) is kept.
 * So "Projects/2024.Q1" is ".Projects.2024%2EQ1" and "Café" is ".Café".
 * Decoding accepts only what encoding produces (the round trip must give
 * the same directory name), so every folder has exactly one directory.
 * A directory name is at most 255 bytes (NAME_MAX): deep or long names
 * past that are refused with STORE_ERROR_LIMIT.
 */
#include "store/store_private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "lib/util.h"

bool store_name_is_inbox(const char *name)
{
	return str_ieq(name, "INBOX");
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

static const char *check_name(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name), len;

	if (n == 0)
		return "Mailbox name is empty";
	if (n > STORE_NAME_MAX)
		return "Mailbox name is too long";
	if (name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") != NULL)
		return "Mailbox name has an empty hierarchy level";
	for (size_t i = 0; i < n; i += len) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "Mailbox name contains control characters";
		if ((len = utf8_len(p + i, n - i)) == 0)
			return "Mailbox name is not valid UTF-8";
	}
	return NULL;
}

int store_name_normalize(const char *name, char *out, size_t size,
			 struct store_error *error_r)
{
	const char *why = check_name(name);
	size_t n = strlen(name);

	if (why != NULL) {
		store_error_set(error_r, n > STORE_NAME_MAX ? STORE_ERROR_LIMIT :
				STORE_ERROR_BAD_PARAM, "%s", why);
		return -1;
	}
	if (n >= size) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
		return -1;
	}
	memcpy(out, name, n + 1);
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 1;
}

static bool must_escape(unsigned char c)
{
	return c == '%' || c == '.' || c == '/' || c < 0x20 || c == 0x7f;
}

int store_name_to_dir(const char *name, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size < 2)
		return -1;
	out[o++] = '.';
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (o + 4 > size)
			return -1;
		if (*p == '/') {
			out[o++] = '.';
		} else if (must_escape(*p)) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return o <= 255 ? 1 : -1;
}

int store_name_from_dir(const char *dirname, char *out, size_t size)
{
	char again[300];
	size_t o = 0;
	int hi, lo;

	if (dirname[0] != '.' || dirname[1] == '\0' || strlen(dirname) > 255)
		return 0;
	for (const char *p = dirname + 1; *p != '\0'; p++) {
		if (o + 2 > size)
			return 0;
		if (*p == '.') {
			out[o++] = '/';
		} else if (*p == '%') {
			/* either case here; only the upper-case spelling
			   survives the canonical check below */
			if ((hi = hex_value((unsigned char)p[1])) < 0 ||
			    (lo = hex_value((unsigned char)p[2])) < 0)
				return 0;
			out[o++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	if (check_name(out) != NULL || strcmp(out, "INBOX") == 0)
		return 0;
	/* ".inbox.x" is no spelling of "INBOX/x" */
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/') &&
	    strncmp(out, "INBOX", 5) != 0)
		return 0;
	/* only the canonical spelling is a folder */
	if (store_name_to_dir(out, again, sizeof(again)) < 0 ||
	    strcmp(again, dirname) != 0)
		return 0;
	return 1;
}

int store_folder_path(const struct store_account *a, const char *name,
		      char *out, size_t size)
{
	char dir[300];
	int n;

	if (strcmp(name, "INBOX") == 0) {
		n = snprintf(out, size, "%s", a->root);
	} else {
		if (store_name_to_dir(name, dir, sizeof(dir)) < 0)
			return -1;
		n = snprintf(out, size, "%s/%s", a->root, dir);
	}
	return n > 0 && (size_t)n < size ? 1 : -1;
}

int store_folder_dir_name(const char *name, char *out, size_t size)
{
	char canon[STORE_NAME_MAX + 1];
	struct store_error err;

	if (store_name_normalize(name, canon, sizeof(canon), &err) < 0 ||
	    store_name_is_inbox(canon))
		return -1;
	return store_name_to_dir(canon, out, size);
}
