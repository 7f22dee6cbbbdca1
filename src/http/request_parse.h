/* request_parse.h: the pure checks request.c applies to request text (no connection
 * needed): the client's X-Request-Id and the JSON Content-Type test. Internal to
 * src/http; exposed so the fuzz harnesses (tests/fuzz) call them directly. */
#ifndef VISOR_HTTP_REQUEST_PARSE_H
#define VISOR_HTTP_REQUEST_PARSE_H

/* 1 when id is 1..64 characters of [A-Za-z0-9._:-] (kept as the request id). */
int visor_http_sane_request_id(const char *id);
/* 1 for "application/json" (parameters allowed) or any "+json" type. */
int visor_http_is_json_type(const char *type);

#endif
