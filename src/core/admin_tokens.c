/* admin_tokens.c: parsing and constant-time matching of admin tokens (see admin_tokens.h). */
#include "core/admin_tokens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

static visor_code add_token(visor_admin_tokens *out, const char *name, size_t name_len,
                            const char *token, size_t token_len, size_t entry, visor_error *err) {
  if (name_len == 0 || name_len > VISOR_ADMIN_NAME_MAX)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "admin-tokens entry %zu: the name must be 1-%d characters", entry,
                           VISOR_ADMIN_NAME_MAX);
  for (size_t i = 0; i < name_len; i++)
    if (!name_char(name[i]))
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "admin-tokens entry %zu: name '%.*s' may only hold A-Z a-z 0-9 . _ -",
                             entry, (int)name_len, name);
  if (token_len < VISOR_ADMIN_TOKEN_MIN || token_len > VISOR_ADMIN_TOKEN_MAX)
    return visor_error_set(
        err, VISOR_ERR_INVALID, "admin token '%.*s' must be %d to %d characters (it has %zu)",
        (int)name_len, name, VISOR_ADMIN_TOKEN_MIN, VISOR_ADMIN_TOKEN_MAX, token_len);
  for (size_t i = 0; i < token_len; i++)
    if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "admin token '%.*s' may only hold printable characters, no spaces",
                             (int)name_len, name);
  for (size_t i = 0; i < out->count; i++) {
    if (strlen(out->items[i].name) == name_len && memcmp(out->items[i].name, name, name_len) == 0)
      return visor_error_set(err, VISOR_ERR_INVALID, "admin token name '%.*s' is given twice",
                             (int)name_len, name);
    if (out->items[i].token_len == token_len && memcmp(out->items[i].token, token, token_len) == 0)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "admin tokens '%s' and '%.*s' are the same token", out->items[i].name,
                             (int)name_len, name);
  }
  visor_admin_token *grown = realloc(out->items, (out->count + 1) * sizeof *grown);
  if (!grown) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  out->items = grown;
  visor_admin_token *slot = &out->items[out->count++];
  memset(slot, 0, sizeof *slot);
  memcpy(slot->name, name, name_len);
  memcpy(slot->token, token, token_len);
  slot->token_len = token_len;
  return VISOR_OK;
}

visor_code visor_admin_tokens_parse(const char *single, const char *list, visor_admin_tokens *out,
                                    visor_error *err) {
  memset(out, 0, sizeof *out);
  visor_code code = VISOR_OK;
  if (single && *single) code = add_token(out, "admin", 5, single, strlen(single), 0, err);
  size_t entry = 0;
  for (const char *p = list; code == VISOR_OK && p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    entry++;
    const char *colon = memchr(p, ':', len);
    if (!colon)
      code = visor_error_set(err, VISOR_ERR_INVALID,
                             "admin-tokens entry %zu is not name:token (entries are separated "
                             "by ',')",
                             entry);
    else
      code = add_token(out, p, (size_t)(colon - p), colon + 1, len - (size_t)(colon - p) - 1, entry,
                       err);
    p = end ? end + 1 : NULL;
    if (code == VISOR_OK && end && !*p)
      code = visor_error_set(err, VISOR_ERR_INVALID, "admin-tokens ends with an empty entry");
  }
  if (code != VISOR_OK) visor_admin_tokens_free(out);
  return code;
}

void visor_admin_tokens_free(visor_admin_tokens *tokens) {
  if (tokens->items) memset(tokens->items, 0, tokens->count * sizeof *tokens->items);
  free(tokens->items);
  memset(tokens, 0, sizeof *tokens);
}

/* All-ones when a < b, else 0, without a branch. */
static size_t mask_below(size_t a, size_t b) {
  return (size_t)0 - (size_t)(a < b);
}

long visor_admin_tokens_match(const visor_admin_tokens *tokens, const char *given,
                              size_t given_len) {
  long found = -1;
  /* Every configured token is compared over all VISOR_ADMIN_TOKEN_MAX bytes (both sides
   * padded with zeros), whatever matched before and wherever the first difference is. */
  size_t clamped = given_len > VISOR_ADMIN_TOKEN_MAX ? VISOR_ADMIN_TOKEN_MAX : given_len;
  for (size_t t = 0; t < tokens->count; t++) {
    const visor_admin_token *token = &tokens->items[t];
    unsigned diff = (unsigned)(token->token_len != given_len);
    for (size_t i = 0; i < VISOR_ADMIN_TOKEN_MAX; i++) {
      size_t in_given = mask_below(i, clamped);
      unsigned char g = (unsigned char)(given[i & in_given] & (unsigned char)in_given);
      unsigned char c = (unsigned char)token->token[i]; /* zero-padded to the end */
      diff |= (unsigned)(g ^ c);
    }
    /* equal = all-ones when diff == 0 */
    unsigned long equal = (unsigned long)(((diff | (0u - diff)) >> (sizeof diff * 8 - 1)) ^ 1u);
    unsigned long pick = 0ul - equal;
    found = (long)(((unsigned long)t & pick) | ((unsigned long)found & ~pick));
  }
  return found;
}

int visor_admin_actor_valid(const char *actor) {
  size_t len = actor ? strlen(actor) : 0;
  if (len == 0 || len > VISOR_ADMIN_ACTOR_MAX) return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)actor[i] < 0x20 || (unsigned char)actor[i] > 0x7e || actor[i] == '/')
      return 0;
  return 1;
}
