#ifndef CORREIO_PRIVILEGE_H
#define CORREIO_PRIVILEGE_H
/*
 * privilege: leaving root.  When correio starts as root (to bind ports
 * below 1024), it creates the data directory, gives it to the configured
 * user and becomes that user before touching any mail.  Every command that
 * writes the data directory does the same, so its files all belong to one
 * user.  Not root: nothing changes.
 */
#include <pwd.h>

#include "lib/config.h"

/* Create cfg->data_dir (missing parents 0755, the directory itself 0711),
   as whoever we are.  Returns 1, or -1 with *error_r (static text). */
int privilege_make_data_dir(const struct config *cfg, const char **error_r);

/* Create cfg->data_dir; as root, chown it to cfg->user and switch to that
   user for good.  Returns 1, or -1 with *error_r (static text). */
int privilege_drop(const struct config *cfg, const char **error_r);

/* The account privilege_drop would switch to: 1 with *pw_r (getpwnam's
   static entry) when running as root and cfg->user is another account, 0
   when the process would stay as it is (not root, or cfg->user is root),
   -1 with *error_r when cfg->user does not exist. */
int privilege_run_as(const struct config *cfg, struct passwd **pw_r, const char **error_r);

/* Become pw for good (groups, gid, uid; no way back).  Returns 1 or -1. */
int privilege_become(const struct passwd *pw);

/*
 * For a command that reads or writes files of whoever runs it as well as
 * the data directory (correio user import|export): as root, become
 * cfg->user for the data directory but only in the effective IDs, so
 * that privilege_invoker(true) can take root back around the outside
 * files and privilege_invoker(false) leave it again.  Not root: nothing
 * changes.  Returns 1, or -1 with *error_r (static text).
 */
int privilege_drop_effective(const struct config *cfg, const char **error_r);
void privilege_invoker(bool on);

#endif
