/*
 * jmap_vacation.c - VacationResponse/get and /set (RFC 8621 §8) as a Sieve
 * vacation script, so that the reply is made by local delivery like any
 * other Sieve vacation (one per sender per 7 days, never to lists or
 * automatic mail; see delivery/vacation.c).
 *
 * The object is kept in <data_dir>/jmap/<accountId>/vacation; when
 * isEnabled, the script "jmap-vacation" in the account's Sieve directory
 * (the one ManageSieve and `correio user sieve` manage) holds the reply
 * and is the active script.  Reading it back, isEnabled is true only while
 * that script is the active one, so turning it off by ManageSieve shows.
 * Refused (forbidden): enabling it while another script is active (only
 * one script runs: put the vacation into that one).  fromDate and toDate
 * bound the replies in time with the Sieve date extension's currentdate
 * (RFC 5260), compared as UTC ISO 8601 strings.
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "conn/services.h"
#include "sieve/sieve.h"

#define VACATION_FILE "vacation"
#define VACATION_SCRIPT "jmap-vacation"
#define MAX_VACATION_TEXT (64 * 1024)

static const char *const props[] = {
	"isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody",
};

/* The Sieve directory of a (mbox accounts keep theirs in the same place):
   1, or 0 when the account cannot be read. */
static int sieve_dir(struct jmap_account *a, char *out, size_t size)
{
	struct account acct;

	if (accounts_user_get(a->srv->accounts, a->user, &acct) <= 0)
		return 0;
	sieve_store_dir(a->srv->cfg.data_dir, a->user, out, size);
	return 1;
}

static json_t *vacation_load(struct jmap_account *a)
{
	char path[1200], dir[4400], active[SIEVE_NAME_MAX + 1];
	struct buf b;
	json_t *v = NULL, *o;

	buf_init(&b, 0);
	if (jmap_file_path(a->srv->cfg.data_dir, a->id, VACATION_FILE, path, sizeof(path)) > 0 &&
	    jmap_file_read(path, &b) > 0)
		v = json_loadb(b.data, b.len, 0, NULL);
	buf_deinit(&b);
	o = json_pack("{s:s,s:b,s:n,s:n,s:n,s:n,s:n}", "id", "singleton", "isEnabled", 0,
		      "fromDate", "toDate", "subject", "textBody", "htmlBody");
	for (size_t i = 1; i < sizeof(props) / sizeof(props[0]); i++)
		if (json_is_string(json_object_get(v, props[i])))
			json_object_set(o, props[i], json_object_get(v, props[i]));
	active[0] = '\0';
	if (sieve_dir(a, dir, sizeof(dir)) > 0)
		sieve_store_active(dir, active, sizeof(active));
	json_object_set_new(o, "isEnabled", json_boolean(json_is_true(json_object_get(v, "isEnabled")) &&
							 strcmp(active, VACATION_SCRIPT) == 0));
	json_decref(v);
	return o;
}

static void vacation_state(json_t *o, char out[24])
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	snprintf(out, 24, "v%016llx", (unsigned long long)jmap_name_hash(text != NULL ? text : ""));
	free(text);
}

/* A Sieve quoted string. */
static void sieve_quoted(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *s);
	}
	buf_putc(out, '"');
}

/* A UTCDate of RFC 8620 without fractions: "2026-12-24T00:00:00Z", the
   form Sieve's currentdate gives for "iso8601" in zone +0000. */
static bool utc_date_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	return true;
}

/* The script for o: the text reply, or a MIME one for HTML, inside the
   currentdate bounds of fromDate and toDate when set. */
static void vacation_script(json_t *o, struct buf *out)
{
	const char *subject = json_string_value(json_object_get(o, "subject"));
	const char *text = json_string_value(json_object_get(o, "textBody"));
	const char *html = json_string_value(json_object_get(o, "htmlBody"));
	const char *from = json_string_value(json_object_get(o, "fromDate"));
	const char *to = json_string_value(json_object_get(o, "toDate"));
	struct buf body;

	buf_init(&body, 0);
	buf_puts(out, "# made by JMAP VacationResponse/set: changes here are overwritten\n"
		 "require [\"vacation\", \"date\", \"relational\"];\n");
	if (from != NULL || to != NULL) {
		buf_puts(out, "if allof (");
		if (from != NULL)
			buf_printf(out, "currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" \"%s\"%s",
				   from, to != NULL ? ", " : "");
		if (to != NULL)
			buf_printf(out, "currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" \"%s\"",
				   to);
		buf_puts(out, ") {\n");
	}
	buf_puts(out, "vacation");
	if (subject != NULL && subject[0] != '\0') {
		buf_puts(out, " :subject ");
		sieve_quoted(out, subject);
	}
	if (html == NULL) {
		sieve_quoted(&body, text != NULL ? text : "");
		buf_puts(out, " ");
		buf_append(out, body.data, body.len);
	} else {
		struct buf mime;
		buf_init(&mime, 0);
		if (text != NULL) {
			buf_puts(&mime, "Content-Type: multipart/alternative; boundary=\"=-jmap-v\"\n\n"
				 "--=-jmap-v\nContent-Type: text/plain; charset=utf-8\n"
				 "Content-Transfer-Encoding: 8bit\n\n");
			buf_puts(&mime, text);
			buf_puts(&mime, "\n--=-jmap-v\n");
		}
		buf_puts(&mime, "Content-Type: text/html; charset=utf-8\n"
			 "Content-Transfer-Encoding: 8bit\n\n");
		buf_puts(&mime, html);
		if (text != NULL)
			buf_puts(&mime, "\n--=-jmap-v--");
		buf_puts(&mime, "\n");
		buf_puts(out, " :mime ");
		sieve_quoted(out, buf_cstr(&mime));
		buf_deinit(&mime);
	}
	buf_puts(out, ";\n");
	if (from != NULL || to != NULL)
		buf_puts(out, "}\n");
	buf_deinit(&body);
}

int jmap_vacation_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids"), *o, *list, *notfound, *v;
	char state[24];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (ids != NULL && !json_is_null(ids) && !json_is_array(ids))
		return jmap_call_error(call, "invalidArguments", NULL);
	o = vacation_load(a);
	vacation_state(o, state);
	list = json_array();
	notfound = json_array();
	if (!json_is_array(ids))
		json_array_append(list, o);
	else
		json_array_foreach(ids, i, v) {
			if (json_is_string(v) && strcmp(json_string_value(v), "singleton") == 0)
				json_array_append(list, o);
			else
				json_array_append(notfound, v);
		}
	json_decref(o);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}

/* Apply patch to o and put it in force.  NULL, or the SetError. */
static json_t *vacation_update(struct jmap_account *a, json_t *o, json_t *patch)
{
	char dir[4400], path[1200], active[SIEVE_NAME_MAX + 1], err[256];
	struct sieve_script *script;
	const char *key;
	json_t *v, *saved;
	struct buf text;
	int ret;

	if (!json_is_object(patch))
		return json_pack("{s:s}", "type", "invalidPatch");
	json_object_foreach(patch, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
			known |= strcmp(key, props[i]) == 0;
		if (!known || (strcmp(key, "isEnabled") == 0 && !json_is_boolean(v)) ||
		    ((strcmp(key, "fromDate") == 0 || strcmp(key, "toDate") == 0) &&
		     !json_is_null(v) && (!json_is_string(v) || !utc_date_ok(json_string_value(v)))) ||
		    (strcmp(key, "isEnabled") != 0 && !json_is_null(v) &&
		     (!json_is_string(v) || json_string_length(v) > MAX_VACATION_TEXT)))
			return json_pack("{s:s,s:[s],s:s}", "type", "invalidProperties",
					 "properties", key, "description",
					 strstr(key, "Date") != NULL ?
					 "a UTCDate such as 2026-12-24T00:00:00Z, or null" :
					 "bad value");
		json_object_set(o, key, v);
	}
	if (sieve_dir(a, dir, sizeof(dir)) <= 0)
		return json_pack("{s:s}", "type", "serverFail");
	sieve_store_active(dir, active, sizeof(active));
	if (json_is_true(json_object_get(o, "isEnabled"))) {
		if (active[0] != '\0' && strcmp(active, VACATION_SCRIPT) != 0)
			return json_pack("{s:s,s:s}", "type", "forbidden", "description",
					 "another Sieve script is active");
		buf_init(&text, SIEVE_MAX_SCRIPT);
		vacation_script(o, &text);
		ret = sieve_compile(buf_cstr(&text), text.len, &script, err, sizeof(err));
		if (ret < 0) {
			buf_deinit(&text);
			log_err("jmap: %s: vacation script: %s", a->user, err);
			return json_pack("{s:s,s:s}", "type", "serverFail", "description", err);
		}
		sieve_script_free(&script);
		ret = sieve_store_put(dir, VACATION_SCRIPT, text.data, text.len) < 0 ||
		      sieve_store_activate(dir, VACATION_SCRIPT) <= 0;
		buf_deinit(&text);
		if (ret)
			return json_pack("{s:s}", "type", "serverFail");
	} else if (strcmp(active, VACATION_SCRIPT) == 0) {
		if (sieve_store_activate(dir, "") < 0)
			return json_pack("{s:s}", "type", "serverFail");
	}
	saved = json_deep_copy(o);
	json_object_del(saved, "id");
	ret = jmap_file_path(a->srv->cfg.data_dir, a->id, VACATION_FILE, path, sizeof(path)) < 0 ||
	      jmap_file_replace(path, saved) < 0;
	json_decref(saved);
	return ret ? json_pack("{s:s}", "type", "serverFail") : NULL;
}

int jmap_vacation_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *o, *not_created, *updated, *not_updated, *not_destroyed, *v;
	const char *key;
	char old[24], now[24];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy)))
		return jmap_call_error(call, "invalidArguments", NULL);
	o = vacation_load(a);
	vacation_state(o, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0) {
		json_decref(o);
		return jmap_call_error(call, "stateMismatch", NULL);
	}
	not_created = json_object();
	updated = json_object();
	not_updated = json_object();
	not_destroyed = json_object();
	json_object_foreach(create, key, v)
		json_object_set_new(not_created, key, json_pack("{s:s}", "type", "singleton"));
	json_array_foreach(destroy, i, v)
		if (json_is_string(v))
			json_object_set_new(not_destroyed, json_string_value(v),
					    json_pack("{s:s}", "type", "singleton"));
	json_object_foreach(update, key, v) {
		json_t *err;
		if (strcmp(key, "singleton") != 0) {
			json_object_set_new(not_updated, key, json_pack("{s:s}", "type", "notFound"));
			continue;
		}
		err = vacation_update(a, o, v);
		if (err != NULL)
			json_object_set_new(not_updated, key, err);
		else
			json_object_set_new(updated, key, json_null());
	}
	json_decref(o);
	o = vacation_load(a);
	vacation_state(o, now);
	json_decref(o);
	call->result = json_pack("{s:s,s:s,s:s,s:n,s:o,s:o,s:o,s:[],s:o}", "accountId", a->id,
				 "oldState", old, "newState", now, "created",
				 "notCreated", not_created, "updated", updated,
				 "notUpdated", not_updated, "destroyed",
				 "notDestroyed", not_destroyed);
	return 1;
}
