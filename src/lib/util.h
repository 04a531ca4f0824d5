#ifndef CORREIO_UTIL_H
#define CORREIO_UTIL_H
/*
 * util: small helpers shared by every component: bounded string copies,
 * number parsing with units, and file-system operations that report errors
 * as text rather than aborting.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Allocation that cannot fail: on out of memory the request is logged and
 * the process aborts (an allocation failure is an environment fault, not an
 * error a caller can recover from).  They never return NULL; xmalloc(0) and
 * xcalloc(0, n) return a unique pointer to free with free().
 */
void *xmalloc(size_t size);
/* Zeroed nmemb * size bytes; the multiplication overflowing aborts too. */
void *xcalloc(size_t nmemb, size_t size);
/* realloc(p, size); p is untouched (still owned by the caller) only if this
   returned, which it always does with the new block. */
void *xrealloc(void *p, size_t size);
/* realloc(p, nmemb * size), the multiplication checked. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* A copy of the NUL-terminated s, to free with free(). */
char *xstrdup(const char *s);
/* A NUL-terminated copy of s[0..n) (stops at a NUL before n). */
char *xstrndup(const char *s, size_t n);

/* Copy src into dst (size bytes), always NUL-terminating.  Returns the
   length of src; a result >= size means dst was truncated. */
size_t str_copy(char *dst, const char *src, size_t size);
/* ASCII case-insensitive equality of two NUL-terminated strings. */
bool str_ieq(const char *a, const char *b);
/* Lower-case ASCII letters in place. */
void str_lower(char *s);
/* The n-th (from 0) item of a comma/space separated list, such as
   tls_certificate = "a.pem, b.pem", into out.  Returns 1, or 0 past the
   last item. */
int str_list_item(const char *list, int n, char *out, size_t size);

/* "10", "10k", "25M", "1G" -> bytes.  Returns 1, or -1 on bad syntax. */
int parse_size(const char *s, uint64_t *r);
/* "30", "30s", "5m", "4h", "5d" -> seconds.  Returns 1, or -1. */
int parse_duration(const char *s, uint64_t *r);
/* Decimal unsigned integer, whole string.  Returns 1, or -1. */
int parse_uint(const char *s, uint64_t *r);

struct addrinfo;
struct sockaddr_storage;
/* The address of ss (IPv4 or IPv6) as text into out, or "?" when it cannot
   be written (another family, out too small). */
void sockaddr_addr_text(const struct sockaddr_storage *ss, char *out, size_t size);
/* Resolve a listener item "address:port", "[v6]:port" or "*:port" (any
   address) for a passive TCP socket.  Returns 1 with *res_r to free with
   freeaddrinfo(), or -1 (no colon, host too long, no such address). */
int listen_address_resolve(const char *item, struct addrinfo **res_r);

/* Read up to size bytes at offset 0 of fd into *data (grown with realloc,
   *cap updated).  Returns the bytes read, or -1. */
ssize_t read_file_at_start(int fd, size_t size, char **data, size_t *cap);
/* The bytes of the file fd (read from its start with pread) and its size
   with every bare LF counted as CRLF: a message's RFC822.SIZE and its
   Maildir W= value.  1 or -1. */
int file_crlf_size(int fd, uint64_t *size_r, uint64_t *crlf_size_r);

/* Length of the valid UTF-8 sequence at p[0..n) (1 for ASCII; n >= 1),
   0 if invalid (overlong, surrogate, beyond U+10FFFF, truncated). */
size_t utf8_sequence(const unsigned char *p, size_t n);

/* mkdir -p with the given mode.  Returns 1, or -1 with errno set. */
int mkdir_p(const char *path, mode_t mode);
/* fsync a directory by path.  Returns 1, or -1 with errno set. */
int fsync_dir(const char *path);
/* write(2) all of it, retrying on EINTR.  Returns 1, or -1. */
int write_all(int fd, const void *p, size_t n);

/* Microseconds since the epoch. */
uint64_t time_now_us(void);

#endif
