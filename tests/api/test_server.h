/* test_server.h: a real Visor server for tests, started in the test's own process: the
 * REST API on 127.0.0.1 (an ephemeral port) over embedded backends in a new temp folder,
 * optionally with the pipelines (ML, vectors, two workers). The test HTTP client
 * (http_client.h) is pointed at it. */
#ifndef VISOR_TESTS_TEST_SERVER_H
#define VISOR_TESTS_TEST_SERVER_H

#include "app/app.h"
#include "core/config.h"
#include "http/http.h"

typedef struct test_server {
  visor_config config;
  visor_app app;
  visor_http_server *server;
  char data_dir[64];
} test_server;

/* options: extra visor flags ("--max-upload-mb", "1", ...). Fails the test on error. */
void test_server_start(test_server *server, char **options, int option_count, int with_pipelines);
void test_server_stop(test_server *server);

#endif
