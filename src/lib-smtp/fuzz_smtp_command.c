/*
 * fuzz_smtp_command.c - libFuzzer target: one SMTP command line through
 * smtp_command_parse() and the argument parser of its verb.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-smtp/smtp_parse.h"

static void check_reply(const char *reply)
{
	if (reply == NULL || strlen(reply) < 10 || reply[3] != ' ' ||
	    (reply[0] != '5' && reply[0] != '4'))
		abort();
}

static void fuzz_args(const struct smtp_command *cmd)
{
	struct smtp_mail_args mail;
	struct smtp_rcpt_args rcpt;
	const char *error = NULL;
	uint64_t size;
	bool last;
	int ret = 1;

	switch (cmd->verb) {
	case SMTP_VERB_MAIL:
		ret = smtp_mail_parse(cmd->arg, &mail, &error);
		if (ret > 0 && !mail.null_sender && !mail.smtputf8 &&
		    address_is_utf8(&mail.sender))
			abort();
		break;
	case SMTP_VERB_RCPT:
		ret = smtp_rcpt_parse(cmd->arg, cmd->arg[0] == 't', &rcpt,
				      &error);
		break;
	case SMTP_VERB_BDAT:
		ret = smtp_bdat_parse(cmd->arg, &size, &last, &error);
		break;
	default:
		break;
	}
	if (ret < 0)
		check_reply(error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_command cmd;
	const char *error = NULL;
	char *line = malloc(size + 1);

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	if (smtp_command_parse(line, size, &cmd, &error) > 0) {
		if (smtp_verb_name(cmd.verb) == NULL)
			abort();
		fuzz_args(&cmd);
	} else {
		check_reply(error);
	}
	free(line);
	return 0;
}
