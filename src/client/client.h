#ifndef CORREIO_CLIENT_H
#define CORREIO_CLIENT_H
/*
 * client: `correio mail`, the user's mail client.  It reads mail over IMAP
 * (or POP3), sends it over SMTP submission, keeps an offline Maildir cache
 * with an outbox and a journal of offline changes, and has a full-screen
 * terminal view.  main.c calls cmd_mail() with argv[0] = "mail"; the
 * configuration of the server (struct config) is not used: the client has
 * its own accounts file (client_config.c).
 *
 * Returns the process exit status: 0 success, 1 failure, 2 usage.
 */

int cmd_mail(int argc, char **argv);

#endif
