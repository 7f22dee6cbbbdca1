/* json_number.c: the JSON number grammar (see json_number.h). */
#include "core/json_number.h"

#include <ctype.h>

int visor_is_json_number(const char *text) {
  const char *c = text;
  if (*c == '-') c++;
  if (*c == '0')
    c++;
  else if (*c >= '1' && *c <= '9')
    while (isdigit((unsigned char)*c))
      c++;
  else
    return 0;
  if (*c == '.') {
    if (!isdigit((unsigned char)*++c)) return 0;
    while (isdigit((unsigned char)*c))
      c++;
  }
  if (*c == 'e' || *c == 'E') {
    c++;
    if (*c == '+' || *c == '-') c++;
    if (!isdigit((unsigned char)*c)) return 0;
    while (isdigit((unsigned char)*c))
      c++;
  }
  return *c == '\0';
}
