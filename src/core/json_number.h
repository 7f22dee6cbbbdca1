/* json_number.h: whether a text is a number in the JSON grammar, the one number syntax the
 * API accepts in JSON and in form fields alike, and `visor import` checks before sending. */
#ifndef VISOR_CORE_JSON_NUMBER_H
#define VISOR_CORE_JSON_NUMBER_H

/* 1 when text is all of -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, else 0. */
int visor_is_json_number(const char *text);

#endif
