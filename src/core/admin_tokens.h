/* admin_tokens.h: the admin tokens of --admin-tokens "name:token,..." (and the single
 * --admin-token, named "admin"), and matching a presented bearer token against all of
 * them in constant time: the time taken depends neither on which token matches, nor on
 * how long the configured tokens are, nor on how much of one a wrong guess shares. */
#ifndef VISOR_CORE_ADMIN_TOKENS_H
#define VISOR_CORE_ADMIN_TOKENS_H

#include <stddef.h>

#include "core/error.h"

#define VISOR_ADMIN_TOKEN_MIN 16
#define VISOR_ADMIN_TOKEN_MAX 256 /* bytes compared for every configured token */
#define VISOR_ADMIN_NAME_MAX 64   /* a token's name: 1-64 of A-Z a-z 0-9 . _ - */
#define VISOR_ADMIN_ACTOR_MAX 64  /* X-Visor-Actor: 1-64 printable ASCII bytes */

typedef struct visor_admin_token {
  char name[VISOR_ADMIN_NAME_MAX + 1];
  char token[VISOR_ADMIN_TOKEN_MAX + 1];
  size_t token_len;
} visor_admin_token;

typedef struct visor_admin_tokens {
  visor_admin_token *items;
  size_t count;
} visor_admin_tokens;

/* Parses single (may be NULL: the token named "admin") and list (may be NULL:
 * "name:token,name:token"). Each token 16-256 bytes without ',' or spaces; names unique,
 * tokens unique. VISOR_ERR_INVALID naming the bad entry (never the token itself). */
visor_code visor_admin_tokens_parse(const char *single, const char *list, visor_admin_tokens *out,
                                    visor_error *err);
void visor_admin_tokens_free(visor_admin_tokens *tokens);

/* Index of the token equal to given (given_len bytes), or -1; constant time as above. */
long visor_admin_tokens_match(const visor_admin_tokens *tokens, const char *given,
                              size_t given_len);

/* Whether actor is 1-64 bytes of printable ASCII (0x20-0x7e) without '/'. */
int visor_admin_actor_valid(const char *actor);

#endif
