#ifndef CORREIO_CONTROL_H
#define CORREIO_CONTROL_H
/*
 * control: the server's local command socket, <data_dir>/control.sock
 * (config_control_path()),
 * used by `correio queue ...`, `correio user unlock` and `correio sendmail`.  One request per
 * connection, a line of words, then (SUBMIT) the message until the client
 * shuts down its side; the answer is text, its first line "ok" or
 * "error: reason".  Administration (queue, unlock) is for root and the run-as user
 * (SO_PEERCRED); any local user may submit mail, and the Received: line
 * names the submitting uid.  Loop thread only.
 */
struct services;
struct control;

int control_open(struct services *srv, struct control **r, const char **error_r);
void control_free(struct control **c);

#endif
