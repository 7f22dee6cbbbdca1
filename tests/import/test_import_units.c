/* test_import_units.c: the catalogue file readers and row checks of `visor import`: CSV
 * quoting (commas, quotes and newlines inside fields) and the line each record starts on,
 * header errors, labels and price parsing, JSON Lines rows, grouping rows by SKU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "import/catalogue_file.h"

static char *write_temp(const char *suffix, const char *text) {
  char *path = malloc(64);
  snprintf(path, 64, "/tmp/visor-import-unit-XXXXXX%s", suffix);
  int fd = mkstemps(path, (int)strlen(suffix));
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static visor_code read_text(const char *suffix, const char *text, visor_catalogue_file *file,
                            visor_error *err) {
  char *path = write_temp(suffix, text);
  visor_code code = visor_catalogue_file_read(path, NULL, file, err);
  unlink(path);
  free(path);
  return code;
}

#define HEADER "sku,name,description,category,labels,price,currency,image\n"

static void csv_quoting_and_lines(void **state) {
  (void)state;
  visor_catalogue_file file;
  visor_error err = {0};
  assert_int_equal(read_text(".csv",
                             HEADER "A-1,\"Oat, milk\",\"two\nlines, and \"\"quotes\"\"\",Drinks,"
                                    "brand=Oatly;size=1l,2.5,EUR,a.jpg\n"
                                    "\n"
                                    "A-1,Oat milk,,,,,,b.jpg\r\n"
                                    "B-2,Bread,,,,,,http://example.com/b.jpg",
                             &file, &err),
                   VISOR_OK);
  assert_int_equal(file.row_count, 3);
  assert_int_equal(file.rows[0].line, 2);
  assert_int_equal(file.rows[1].line, 5);
  assert_int_equal(file.rows[2].line, 6);
  assert_null(file.rows[0].error);
  json_t *fields = file.rows[0].fields;
  assert_string_equal(json_string_value(json_object_get(fields, "name")), "Oat, milk");
  assert_string_equal(json_string_value(json_object_get(fields, "description")),
                      "two\nlines, and \"quotes\"");
  assert_string_equal(json_string_value(json_object_get(json_object_get(fields, "labels"), "size")),
                      "1l");
  assert_true(json_number_value(json_object_get(fields, "price")) == 2.5);
  assert_int_equal(file.product_count, 2);
  assert_int_equal(file.products[0].row_count, 2); /* one SKU, two images */
  assert_string_equal(file.rows[2].images[0], "http://example.com/b.jpg");
  visor_catalogue_file_free(&file);
}

static void csv_bad_rows_keep_their_reason(void **state) {
  (void)state;
  visor_catalogue_file file;
  visor_error err = {0};
  assert_int_equal(read_text(".csv",
                             HEADER ",No sku,,,,,,a.jpg\n"
                                    "C-1,No image,,,,,,\n"
                                    "C-2,Price,,,,0x10,,a.jpg\n"
                                    "C-3,Labels,,,brand,,,a.jpg\n"
                                    "C-4,Fields,,,\n"
                                    "C 5,Bad sku,,,,,,a.jpg\n"
                                    "C-6,Currency,,,,,euro,a.jpg\n"
                                    "C-7,Negative,,,,-1,,a.jpg\n",
                             &file, &err),
                   VISOR_OK);
  const char *expected[] = {"missing sku", "missing image", "price",    "labels",
                            "fields",      "sku 'C 5'",     "currency", "negative"};
  assert_int_equal(file.row_count, 8);
  for (size_t i = 0; i < 8; i++) {
    assert_non_null(file.rows[i].error);
    assert_non_null(strstr(file.rows[i].error, expected[i]));
    assert_int_equal(file.rows[i].line, (long)i + 2);
  }
  assert_int_equal(file.product_count, 0);
  visor_catalogue_file_free(&file);
}

static void csv_file_errors(void **state) {
  (void)state;
  visor_catalogue_file file;
  visor_error err = {0};
  assert_int_equal(read_text(".csv", "sku,name,colour,image\n", &file, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "'colour'"));
  assert_int_equal(read_text(".csv", "", &file, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "no header"));
  assert_int_equal(read_text(".csv", HEADER "D-1,\"unclosed,,,,,,a.jpg\n", &file, &err),
                   VISOR_ERR_INVALID);
  assert_int_equal(visor_catalogue_file_read("/nonexistent.csv", NULL, &file, &err),
                   VISOR_ERR_INVALID);
}

static void labels_and_prices(void **state) {
  (void)state;
  json_t *value = NULL;
  char *problem = visor_import_parse_labels("a=1;b=x=y;", &value);
  assert_null(problem);
  assert_string_equal(json_string_value(json_object_get(value, "b")), "x=y");
  json_decref(value);
  problem = visor_import_parse_labels("=1", &value);
  assert_non_null(problem);
  free(problem);
  const char *bad[] = {"1e400", "NaN", "inf", "+1", " 1", "1.", ".5", "0x10", "01"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    problem = visor_import_parse_price(bad[i], &value);
    assert_non_null(problem);
    assert_null(value);
    free(problem);
  }
  assert_null(visor_import_parse_price("1e3", &value));
  assert_true(json_number_value(value) == 1000);
  json_decref(value);
  assert_null(visor_import_parse_price("", &value));
  assert_null(value);
}

static void jsonl_rows(void **state) {
  (void)state;
  visor_catalogue_file file;
  visor_error err = {0};
  assert_int_equal(
      read_text(".jsonl",
                "{\"sku\":\"J-1\",\"name\":\"One\",\"labels\":{\"k\":\"v\"},\"price\":3,"
                "\"images\":[\"a.jpg\",\"file:///tmp/b.jpg\"]}\n"
                "\n"
                "not json\n"
                "{\"sku\":\"J-2\",\"name\":\"Two\"}\n"
                "{\"sku\":\"J-3\",\"name\":\"Three\",\"colour\":\"red\",\"images\":[\"a.jpg\"]}\n"
                "{\"sku\":\"J-4\",\"name\":\"Four\",\"images\":[3]}\n",
                &file, &err),
      VISOR_OK);
  assert_int_equal(file.row_count, 5);
  assert_null(file.rows[0].error);
  assert_int_equal(file.rows[0].image_count, 2);
  assert_int_equal(file.rows[1].line, 3);
  assert_non_null(strstr(file.rows[1].error, "not JSON"));
  assert_non_null(strstr(file.rows[2].error, "missing image"));
  assert_non_null(strstr(file.rows[3].error, "unknown field 'colour'"));
  assert_non_null(strstr(file.rows[4].error, "images[0]"));
  assert_null(json_object_get(file.rows[0].fields, "images"));
  assert_int_equal(file.product_count, 1);
  visor_catalogue_file_free(&file);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(csv_quoting_and_lines),
      cmocka_unit_test(csv_bad_rows_keep_their_reason),
      cmocka_unit_test(csv_file_errors),
      cmocka_unit_test(labels_and_prices),
      cmocka_unit_test(jsonl_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
