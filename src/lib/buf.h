#ifndef CORREIO_BUF_H
#define CORREIO_BUF_H
/*
 * buf: the one binary-safe growable buffer of correio, used for strings too.
 * A buffer never grows past its maximum: appends that would exceed it fail
 * and leave the buffer unchanged.  The data is always NUL-terminated (the
 * terminator is not counted in len), so buf_cstr() is free.
 */
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NULL until the first append */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated (excluding the terminator) */
	size_t max;	/* hard limit on len; 0 means unlimited */
};

/* Prepare an empty buffer that refuses to hold more than max bytes. */
void buf_init(struct buf *b, size_t max);
/* Release the memory; the buffer may be reused after buf_init(). */
void buf_deinit(struct buf *b);
/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);

/* Append n bytes.  Returns 1, or -1 (nothing appended) past the maximum. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* printf-style append.  Returns 1, or -1 past the maximum. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Shorten to n bytes (n <= len). */
void buf_truncate(struct buf *b, size_t n);
/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_cstr(const struct buf *b);

#endif
