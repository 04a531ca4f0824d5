/*
 * imap_arg.c - typed access to the argument tree of an IMAP command.
 *
 * Called by the IMAP command handlers on the args of an IMAP_EVENT_COMMAND
 * (imap_parser.h): "is this argument an astring, a number, a list?".
 * Pure; nothing is allocated.  Numbers are limited to 32 or 63 bits as the
 * grammar of RFC 9051 says.
 */
#include "imap_parser.h"

#include <string.h>
#include <strings.h>

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r,
			 size_t *len_r)
{
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
	case IMAP_ARG_STRING:
		break;
	case IMAP_ARG_LITERAL:
		if (memchr(arg->str, '\0', arg->len) != NULL)
			return false;
		break;
	default:
		return false;
	}
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return false;
	if (memchr(arg->str, '\0', arg->len) != NULL)
		return false;
	*str_r = arg->str;
	return true;
}

static bool arg_digits(const struct imap_arg *arg, uint64_t max,
		       uint64_t *num_r)
{
	uint64_t n = 0;
	size_t i;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return false;
	for (i = 0; i < arg->len; i++) {
		if (arg->str[i] < '0' || arg->str[i] > '9')
			return false;
		if (n > (max - (uint64_t)(arg->str[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(arg->str[i] - '0');
	}
	*num_r = n;
	return true;
}

bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r)
{
	uint64_t n;

	if (!arg_digits(arg, UINT32_MAX, &n))
		return false;
	*num_r = (uint32_t)n;
	return true;
}

bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r)
{
	return arg_digits(arg, INT64_MAX, num_r);
}

bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->len;
	return true;
}

/* atom = 1*ATOM-CHAR */
static bool is_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* flag = "\" atom / flag-keyword;  flag-keyword = atom */
bool imap_arg_is_flag(const struct imap_arg *arg)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	if (arg->str[0] == '\\')
		return is_atom(arg->str + 1, arg->len - 1);
	return is_atom(arg->str, arg->len);
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->str, word) == 0;
}
