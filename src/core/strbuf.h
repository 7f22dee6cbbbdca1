/* strbuf.h: a growable NUL-terminated string buffer. On allocation failure the buffer
 * keeps what it had and remembers the failure (visor_strbuf_take then returns NULL). */
#ifndef VISOR_CORE_STRBUF_H
#define VISOR_CORE_STRBUF_H

#include <stddef.h>

typedef struct visor_strbuf {
  char *data;
  size_t len, capacity;
  int failed;
} visor_strbuf;

void visor_strbuf_init(visor_strbuf *buf);
void visor_strbuf_append(visor_strbuf *buf, const char *text, size_t len);
void visor_strbuf_appendf(visor_strbuf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Returns the malloc'd string (caller frees) and resets the buffer; NULL on failure. */
char *visor_strbuf_take(visor_strbuf *buf);
void visor_strbuf_free(visor_strbuf *buf);

#endif
