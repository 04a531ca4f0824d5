#ifndef CORREIO_PASSWORD_H
#define CORREIO_PASSWORD_H
/*
 * password: crypt(3) (libxcrypt) hashing.  New hashes are yescrypt ("$y$");
 * verification accepts any method libxcrypt knows (bcrypt "$2b$" too).
 */
#include <stddef.h>

/* Hash password into out (size >= 128).  Returns 1 or -1. */
int password_hash(const char *password, char *out, size_t size);
/* 1 match, 0 no match, -1 unusable hash.  Constant-time comparison. */
int password_verify(const char *password, const char *hash);
/* A hash of a random password, to spend the same time for unknown users. */
const char *password_dummy_hash(void);

#endif
