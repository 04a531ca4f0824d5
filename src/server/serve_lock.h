#ifndef CORREIO_SERVE_LOCK_H
#define CORREIO_SERVE_LOCK_H
/*
 * serve_lock: one `correio serve` per data directory.  The server holds an
 * exclusive flock(2) on <data_dir>/serve.lock for its whole life; the file
 * holds the owner's process id, for the message a second server prints.
 * flock, not fcntl: fcntl locks belong to the process and would be dropped
 * by any close of the file, and SQLite uses fcntl locks of its own.
 */
#include <sys/types.h>

#include "lib/config.h"

/*
 * Take the lock (the data directory must exist).  Called before leaving
 * root: the file is opened without following a symbolic link, must be a
 * regular file with one link, and is given to cfg->user.  Returns the
 * descriptor to keep open (close-on-exec), or -1 with *error_r set: a static
 * text, or one naming the running server's pid (valid until the next call).
 */
int serve_lock_take(const struct config *cfg, const char **error_r);

/* Release the lock taken by serve_lock_take (*fd becomes -1). */
void serve_lock_release(int *fd);

#endif
