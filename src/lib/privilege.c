/*
 * privilege.c - data directory ownership and the switch to the run-as user.
 */
#include "privilege.h"

#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

/*
 * mkdir -p the data directory: missing parents 0755, so that the run-as
 * user can reach it after leaving root, the directory itself 0711.
 */
static int make_data_dir(const char *dir)
{
	char parent[1024];
	size_t len = str_copy(parent, dir, sizeof(parent));
	char *slash;

	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = '\0';
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) < 0)
			return -1;
	}
	/* 0711: other users may reach control.sock (sendmail), not list */
	if (mkdir_p(dir, 0711) < 0)
		return -1;
	return 1;
}

int privilege_make_data_dir(const struct config *cfg, const char **error_r)
{
	if (make_data_dir(cfg->data_dir) < 0) {
		*error_r = "cannot create the data directory";
		return -1;
	}
	return 1;
}

int privilege_run_as(const struct config *cfg, struct passwd **pw_r, const char **error_r)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		*error_r = "the configured user does not exist (create it with: useradd --system correio)";
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;	/* configured to stay root */
	*pw_r = pw;
	return 1;
}

int privilege_become(const struct passwd *pw)
{
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0 || setuid(0) == 0 || geteuid() != pw->pw_uid)
		return -1;
	return 1;
}

/* Before either drop: the data directory made and given to the run-as
   user.  1 with *pw_r to switch to, 0 nobody to switch to, or -1. */
static int prepare_switch(const struct config *cfg, struct passwd **pw_r,
			  const char **error_r)
{
	struct stat st;
	int ret;

	if (privilege_make_data_dir(cfg, error_r) < 0)
		return -1;
	if ((ret = privilege_run_as(cfg, pw_r, error_r)) <= 0)
		return ret;
	if (stat(cfg->data_dir, &st) < 0 ||
	    ((st.st_uid != (*pw_r)->pw_uid || st.st_gid != (*pw_r)->pw_gid) &&
	     chown(cfg->data_dir, (*pw_r)->pw_uid, (*pw_r)->pw_gid) < 0)) {
		*error_r = "cannot give the data directory to the configured user";
		return -1;
	}
	return 1;
}

int privilege_drop(const struct config *cfg, const char **error_r)
{
	struct passwd *pw = NULL;
	int ret;

	if ((ret = prepare_switch(cfg, &pw, error_r)) <= 0)
		return ret < 0 ? -1 : 1;	/* nobody to switch to: stay */
	if (log_file_chown(pw->pw_uid, pw->pw_gid) < 0)
		log_warn("start: cannot give the log file to %s: it may not reopen it", cfg->user);
	if (privilege_become(pw) < 0) {
		*error_r = "cannot switch to the configured user";
		return -1;
	}
	return 1;
}

/* The run-as user while privilege_drop_effective() holds root in reserve. */
static uid_t effective_uid;
static gid_t effective_gid;
static bool effective_switched;

/* At exit the process is root again, as it started: one that ends with its
   real and effective ids apart cannot be examined by itself (the sanitizer
   builds' leak check stops the process's threads that way). */
static void retake_root_at_exit(void)
{
	if (!effective_switched || seteuid(0) < 0)
		return;
	if (setegid(0) < 0)
		return;		/* nothing more to do at exit */
}

int privilege_drop_effective(const struct config *cfg, const char **error_r)
{
	struct passwd *pw = NULL;
	int ret;

	if ((ret = prepare_switch(cfg, &pw, error_r)) <= 0)
		return ret < 0 ? -1 : 1;	/* nobody to switch to: stay */
	if (setgroups(1, &pw->pw_gid) < 0 || setegid(pw->pw_gid) < 0 ||
	    seteuid(pw->pw_uid) < 0) {
		*error_r = "cannot switch to the configured user";
		return -1;
	}
	effective_uid = pw->pw_uid;
	effective_gid = pw->pw_gid;
	if (!effective_switched)
		atexit(retake_root_at_exit);
	effective_switched = true;
	return 1;
}

void privilege_invoker(bool on)
{
	if (!effective_switched)
		return;
	if (on) {
		if (seteuid(0) < 0 || setegid(0) < 0)
			fatal("cannot take back root: %m");
	} else if (setegid(effective_gid) < 0 || seteuid(effective_uid) < 0)
		fatal("cannot leave root: %m");
}
