/* filter_expr.c: the filter expression parser (a lexer and a recursive-descent parser over
 * the grammar of docs/FILTERS.md), the tree it builds, and its canonical rendering. Every
 * error names what was expected and the 1-based byte column where it was not found. */
#include "core/filter_expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"

typedef enum token_type {
  TOKEN_END,
  TOKEN_LPAREN,
  TOKEN_RPAREN,
  TOKEN_COMMA,
  TOKEN_OP,
  TOKEN_STRING,
  TOKEN_NUMBER,
  TOKEN_IDENT,
  TOKEN_AND,
  TOKEN_OR,
  TOKEN_NOT,
  TOKEN_IN,
} token_type;

typedef struct token {
  token_type type;
  size_t start, len; /* byte offset and length in the text */
  visor_filter_op op;
  char *text; /* TOKEN_STRING: the unescaped value (owned until taken) */
  double number;
} token;

typedef struct parser {
  const char *text;
  size_t pos;
  token tok;
  unsigned fields;
  size_t nodes;
  visor_error *err;
} parser;

static visor_code fail_at(parser *p, size_t offset, const char *fmt, const char *what) {
  char message[256];
  snprintf(message, sizeof message, fmt, what);
  return visor_error_set(p->err, VISOR_ERR_INVALID, "filter: %s at column %zu", message,
                         offset + 1);
}

static visor_code nomem(parser *p) {
  return visor_error_set(p->err, VISOR_ERR_NOMEM, "filter: out of memory");
}

static int ident_start(unsigned char c) {
  return isalpha(c) || c == '_' || c >= 0x80;
}

static int ident_char(unsigned char c) {
  return isalnum(c) || c == '_' || c == '.' || c == '-' || c == ':' || c >= 0x80;
}

static void put_utf8(char *out, size_t *len, unsigned cp) {
  if (cp < 0x80) {
    out[(*len)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*len)++] = (char)(0xC0 | (cp >> 6));
    out[(*len)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*len)++] = (char)(0xE0 | (cp >> 12));
    out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*len)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* A string literal in single or double quotes; escapes \" \' \\ \/ \n \t \r \uXXXX. */
static visor_code lex_string(parser *p) {
  const char *s = p->text;
  size_t start = p->pos, i = start + 1;
  char quote = s[start];
  char *out = malloc(VISOR_FILTER_MAX_STRING + 4);
  if (!out) return nomem(p);
  size_t len = 0;
  visor_code code = VISOR_OK;
  for (;;) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\0') {
      code = fail_at(p, start, "%s", "unterminated string");
      break;
    }
    if (c == (unsigned char)quote) {
      i++;
      break;
    }
    if (c < 0x20) {
      code = fail_at(p, i, "%s", "control character in string (use \\n, \\t)");
      break;
    }
    if (len >= VISOR_FILTER_MAX_STRING) {
      char what[32];
      snprintf(what, sizeof what, "%d", VISOR_FILTER_MAX_STRING);
      code = fail_at(p, start, "string longer than %s bytes", what);
      break;
    }
    if (c != '\\') {
      out[len++] = (char)c;
      i++;
      continue;
    }
    char e = s[i + 1];
    switch (e) {
    case '"':
    case '\'':
    case '\\':
    case '/':
      out[len++] = e;
      i += 2;
      continue;
    case 'n':
      out[len++] = '\n';
      i += 2;
      continue;
    case 't':
      out[len++] = '\t';
      i += 2;
      continue;
    case 'r':
      out[len++] = '\r';
      i += 2;
      continue;
    case 'u': {
      unsigned cp = 0;
      int ok = 1;
      for (int k = 2; k < 6 && ok; k++) {
        char h = s[i + k];
        ok = isxdigit((unsigned char)h);
        if (ok)
          cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
      }
      if (!ok) {
        code = fail_at(p, i, "%s", "\\u needs 4 hex digits");
        break;
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        code = fail_at(p, i, "%s", "\\u escape of NUL or of a surrogate");
        break;
      }
      put_utf8(out, &len, cp);
      i += 6;
      continue;
    }
    default: {
      char what[8];
      snprintf(what, sizeof what, "\\%c", e ? e : ' ');
      code = fail_at(p, i, "unknown escape '%s'", what);
      break;
    }
    }
    break;
  }
  if (code != VISOR_OK) {
    free(out);
    return code;
  }
  out[len] = '\0';
  p->tok.type = TOKEN_STRING;
  p->tok.text = out;
  p->tok.len = i - start;
  p->pos = i;
  return VISOR_OK;
}

/* A number in the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static visor_code lex_number(parser *p) {
  const char *s = p->text;
  size_t start = p->pos, i = start;
  if (s[i] == '-') i++;
  if (!isdigit((unsigned char)s[i])) return fail_at(p, start, "%s", "expected a digit after '-'");
  if (s[i] == '0' && isdigit((unsigned char)s[i + 1]))
    return fail_at(p, start, "%s", "number with a leading zero");
  while (isdigit((unsigned char)s[i]))
    i++;
  if (s[i] == '.') {
    i++;
    if (!isdigit((unsigned char)s[i])) return fail_at(p, i, "%s", "expected a digit after '.'");
    while (isdigit((unsigned char)s[i]))
      i++;
  }
  if (s[i] == 'e' || s[i] == 'E') {
    i++;
    if (s[i] == '+' || s[i] == '-') i++;
    if (!isdigit((unsigned char)s[i]))
      return fail_at(p, i, "%s", "expected a digit in the exponent");
    while (isdigit((unsigned char)s[i]))
      i++;
  }
  if (ident_char((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
    return fail_at(p, start, "%s", "malformed number");
  char buf[64];
  size_t n = i - start;
  if (n >= sizeof buf) return fail_at(p, start, "%s", "number too long");
  memcpy(buf, s + start, n);
  buf[n] = '\0';
  errno = 0;
  double value = strtod(buf, NULL);
  if (errno == ERANGE && fabs(value) > 1) return fail_at(p, start, "number '%s' out of range", buf);
  p->tok.type = TOKEN_NUMBER;
  p->tok.number = value;
  p->tok.len = n;
  p->pos = i;
  return VISOR_OK;
}

static visor_code next(parser *p) {
  free(p->tok.text);
  memset(&p->tok, 0, sizeof p->tok);
  const char *s = p->text;
  while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
    p->pos++;
  size_t i = p->pos;
  p->tok.start = i;
  unsigned char c = (unsigned char)s[i];
  if (c == '\0') {
    p->tok.type = TOKEN_END;
    return VISOR_OK;
  }
  if (c == '(' || c == ')' || c == ',') {
    p->tok.type = c == '(' ? TOKEN_LPAREN : c == ')' ? TOKEN_RPAREN : TOKEN_COMMA;
    p->tok.len = 1;
    p->pos++;
    return VISOR_OK;
  }
  if (c == '=' || c == '!' || c == '<' || c == '>') {
    size_t len = 1;
    visor_filter_op op;
    if (c == '=') {
      op = VISOR_FILTER_EQ;
      if (s[i + 1] == '=') len = 2;
    } else if (c == '!') {
      if (s[i + 1] != '=') return fail_at(p, i, "%s", "expected '!='");
      op = VISOR_FILTER_NE;
      len = 2;
    } else if (c == '<') {
      op = s[i + 1] == '=' ? VISOR_FILTER_LE : s[i + 1] == '>' ? VISOR_FILTER_NE : VISOR_FILTER_LT;
      if (s[i + 1] == '=' || s[i + 1] == '>') len = 2;
    } else {
      op = s[i + 1] == '=' ? VISOR_FILTER_GE : VISOR_FILTER_GT;
      if (s[i + 1] == '=') len = 2;
    }
    p->tok.type = TOKEN_OP;
    p->tok.op = op;
    p->tok.len = len;
    p->pos += len;
    return VISOR_OK;
  }
  if (c == '"' || c == '\'') return lex_string(p);
  if (c == '-' || isdigit(c)) return lex_number(p);
  if (ident_start(c)) {
    size_t j = i;
    while (ident_char((unsigned char)s[j]))
      j++;
    p->tok.len = j - i;
    p->pos = j;
    static const struct {
      const char *word;
      token_type type;
    } keywords[] = {{"AND", TOKEN_AND}, {"OR", TOKEN_OR}, {"NOT", TOKEN_NOT}, {"IN", TOKEN_IN}};
    p->tok.type = TOKEN_IDENT;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
      if (p->tok.len == strlen(keywords[k].word) &&
          strncasecmp(s + i, keywords[k].word, p->tok.len) == 0)
        p->tok.type = keywords[k].type;
    return VISOR_OK;
  }
  char what[8];
  snprintf(what, sizeof what, isprint(c) ? "%c" : "\\x%02x", c);
  return fail_at(p, i, "unexpected character '%s'", what);
}

/* What the current token is, for "expected X, got Y" messages. */
static const char *token_desc(const parser *p, char *buf, size_t cap) {
  if (p->tok.type == TOKEN_END) return "the end";
  int n = (int)(p->tok.len > 24 ? 24 : p->tok.len);
  snprintf(buf, cap, "'%.*s'", n, p->text + p->tok.start);
  return buf;
}

static visor_code expected(parser *p, const char *what) {
  char message[128], got[40];
  snprintf(message, sizeof message, "expected %s, got %s", what, token_desc(p, got, sizeof got));
  return fail_at(p, p->tok.start, "%s", message);
}

static void node_free(visor_filter_node *n) {
  if (!n) return;
  for (size_t i = 0; i < n->child_count; i++)
    node_free(n->children[i]);
  free(n->children);
  for (size_t i = 0; i < n->value_count; i++)
    free(n->values[i].text);
  free(n->values);
  free(n->label_key);
  free(n);
}

static visor_filter_node *node_new(parser *p, visor_filter_kind kind, size_t column) {
  if (++p->nodes > VISOR_FILTER_MAX_NODES) {
    char what[16];
    snprintf(what, sizeof what, "%d", VISOR_FILTER_MAX_NODES);
    fail_at(p, column, "more than %s terms", what);
    return NULL;
  }
  visor_filter_node *n = calloc(1, sizeof *n);
  if (!n) {
    nomem(p);
    return NULL;
  }
  n->kind = kind;
  n->column = column + 1;
  return n;
}

static visor_code parse_or(parser *p, int depth, visor_filter_node **out);

/* One value of a comparison, checked against the field's type. */
static visor_code parse_value(parser *p, const visor_filter_node *n, visor_filter_value *value) {
  int numeric = n->field == VISOR_FILTER_PRICE;
  if (p->tok.type == TOKEN_STRING) {
    if (numeric)
      return fail_at(p, p->tok.start, "%s", "'price' compares with numbers, got a string");
    value->text = p->tok.text;
    p->tok.text = NULL;
  } else if (p->tok.type == TOKEN_NUMBER) {
    if (!numeric) {
      char message[128];
      snprintf(message, sizeof message, "'%s' compares with strings (in quotes), got a number",
               n->field == VISOR_FILTER_LABEL ? n->label_key : visor_filter_field_name(n->field));
      return fail_at(p, p->tok.start, "%s", message);
    }
    value->number = p->tok.number;
  } else {
    return expected(p, numeric ? "a number" : "a string in quotes");
  }
  return next(p);
}

/* field (op value | [NOT] IN (value, ...)) */
static visor_code parse_comparison(parser *p, visor_filter_node **out) {
  if (p->tok.type != TOKEN_IDENT) return expected(p, "a field name or '('");
  visor_filter_node *n = node_new(p, VISOR_FILTER_COMPARE, p->tok.start);
  if (!n) return p->err->code;
  const char *name = p->text + p->tok.start;
  size_t len = p->tok.len, name_start = p->tok.start;
  static const struct {
    const char *name;
    visor_filter_field field;
  } named[] = {{"category", VISOR_FILTER_CATEGORY},
               {"price", VISOR_FILTER_PRICE},
               {"sku", VISOR_FILTER_SKU},
               {"name", VISOR_FILTER_NAME}};
  n->field = VISOR_FILTER_LABEL;
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    if (len == strlen(named[i].name) && strncmp(name, named[i].name, len) == 0)
      n->field = named[i].field;
  visor_code code = VISOR_OK;
  if (n->field == VISOR_FILTER_LABEL) {
    /* brand, or labels.brand (any key), or labels."key with spaces" */
    if (len > 7 && strncmp(name, "labels.", 7) == 0) {
      name += 7;
      len -= 7;
    }
    if (len == 7 && strncmp(name, "labels.", 7) == 0) len = 0;
    n->label_key = strndup(name, len);
    if (!n->label_key) code = nomem(p);
    if (code == VISOR_OK) code = next(p);
    if (code == VISOR_OK && len == 0 && strncmp(p->text + name_start, "labels.", 7) == 0 &&
        p->tok.type == TOKEN_STRING && p->tok.start == name_start + 7) {
      free(n->label_key);
      n->label_key = p->tok.text;
      p->tok.text = NULL;
      code = next(p);
    }
    if (code == VISOR_OK && (!*n->label_key || strchr(n->label_key, '=')))
      code = fail_at(p, name_start, "%s", "a label key must be non-empty and without '='");
  } else {
    code = next(p);
  }
  if (code == VISOR_OK && !(p->fields & (1u << n->field))) {
    char message[160];
    snprintf(message, sizeof message,
             "field '%s' cannot be used here (searches filter on category, price and labels)",
             visor_filter_field_name(n->field));
    code = fail_at(p, name_start, "%s", message);
  }
  if (code != VISOR_OK) {
    node_free(n);
    return code;
  }
  int in = 0;
  if (p->tok.type == TOKEN_NOT) {
    code = next(p);
    if (code == VISOR_OK && p->tok.type != TOKEN_IN) code = expected(p, "IN after NOT");
    n->negated = 1;
    in = 1;
  } else if (p->tok.type == TOKEN_IN) {
    in = 1;
  } else if (p->tok.type != TOKEN_OP) {
    code = expected(p, "an operator (=, !=, <, <=, >, >=, IN)");
  }
  if (code == VISOR_OK && !in) {
    n->op = p->tok.op;
    if (n->op != VISOR_FILTER_EQ && n->op != VISOR_FILTER_NE && n->field != VISOR_FILTER_PRICE) {
      char message[128];
      snprintf(message, sizeof message, "'%s' orders numbers only: use it with price",
               visor_filter_op_name(n->op));
      code = fail_at(p, p->tok.start, "%s", message);
    }
    n->values = calloc(1, sizeof *n->values);
    if (code == VISOR_OK && !n->values) code = nomem(p);
    if (code == VISOR_OK) code = next(p);
    /* counted before parsing, so a value taken before a later error is freed with the node */
    if (code == VISOR_OK) n->value_count = 1;
    if (code == VISOR_OK) code = parse_value(p, n, &n->values[0]);
  } else if (code == VISOR_OK) {
    n->kind = VISOR_FILTER_IN;
    code = next(p);
    if (code == VISOR_OK && p->tok.type != TOKEN_LPAREN) code = expected(p, "'(' after IN");
    if (code == VISOR_OK) code = next(p);
    n->values = calloc(VISOR_FILTER_MAX_IN, sizeof *n->values);
    if (code == VISOR_OK && !n->values) code = nomem(p);
    while (code == VISOR_OK) {
      if (n->value_count == VISOR_FILTER_MAX_IN) {
        char what[16];
        snprintf(what, sizeof what, "%d", VISOR_FILTER_MAX_IN);
        code = fail_at(p, p->tok.start, "more than %s values in IN", what);
        break;
      }
      n->value_count++;
      code = parse_value(p, n, &n->values[n->value_count - 1]);
      if (code != VISOR_OK) break;
      if (p->tok.type == TOKEN_RPAREN) break;
      if (p->tok.type != TOKEN_COMMA) code = expected(p, "',' or ')'");
      if (code == VISOR_OK) code = next(p);
    }
    if (code == VISOR_OK) code = next(p);
  }
  if (code != VISOR_OK) {
    node_free(n);
    return code;
  }
  *out = n;
  return VISOR_OK;
}

static visor_code too_deep(parser *p) {
  char what[16];
  snprintf(what, sizeof what, "%d", VISOR_FILTER_MAX_DEPTH);
  return fail_at(p, p->tok.start, "nested deeper than %s levels", what);
}

/* NOT unary | '(' or ')' | comparison */
static visor_code parse_unary(parser *p, int depth, visor_filter_node **out) {
  if (depth > VISOR_FILTER_MAX_DEPTH) return too_deep(p);
  visor_code code;
  if (p->tok.type == TOKEN_NOT) {
    visor_filter_node *n = node_new(p, VISOR_FILTER_NOT, p->tok.start);
    if (!n) return p->err->code;
    n->children = calloc(1, sizeof *n->children);
    if (!n->children) {
      node_free(n);
      return nomem(p);
    }
    code = next(p);
    if (code == VISOR_OK) code = parse_unary(p, depth + 1, &n->children[0]);
    if (code == VISOR_OK) n->child_count = 1;
    if (code != VISOR_OK) {
      node_free(n);
      return code;
    }
    *out = n;
    return VISOR_OK;
  }
  if (p->tok.type == TOKEN_LPAREN) {
    size_t open = p->tok.start;
    code = next(p);
    if (code == VISOR_OK) code = parse_or(p, depth + 1, out);
    if (code != VISOR_OK) return code;
    if (p->tok.type != TOKEN_RPAREN) {
      char message[128], got[40];
      snprintf(message, sizeof message, "expected ')' (for the '(' at column %zu), got %s",
               open + 1, token_desc(p, got, sizeof got));
      code = fail_at(p, p->tok.start, "%s", message);
    }
    if (code == VISOR_OK) code = next(p);
    if (code != VISOR_OK) {
      node_free(*out);
      *out = NULL;
    }
    return code;
  }
  return parse_comparison(p, out);
}

/* A chain of `sub` joined by `op_token`, collapsed into one node with its terms as children. */
static visor_code parse_chain(parser *p, int depth, token_type op_token, visor_filter_kind kind,
                              visor_code (*sub)(parser *, int, visor_filter_node **),
                              visor_filter_node **out) {
  size_t start = p->tok.start;
  visor_filter_node *first = NULL;
  visor_code code = sub(p, depth, &first);
  if (code != VISOR_OK) return code;
  if (p->tok.type != op_token) {
    *out = first;
    return VISOR_OK;
  }
  visor_filter_node *n = node_new(p, kind, start);
  if (!n) {
    node_free(first);
    return p->err->code;
  }
  size_t capacity = 4;
  n->children = malloc(capacity * sizeof *n->children);
  if (!n->children) {
    node_free(first);
    node_free(n);
    return nomem(p);
  }
  n->children[n->child_count++] = first;
  while (p->tok.type == op_token) {
    code = next(p);
    visor_filter_node *term = NULL;
    if (code == VISOR_OK) code = sub(p, depth, &term);
    if (code == VISOR_OK && n->child_count == capacity) {
      visor_filter_node **grown = realloc(n->children, 2 * capacity * sizeof *grown);
      if (grown) {
        n->children = grown;
        capacity *= 2;
      } else {
        code = nomem(p);
      }
    }
    if (code != VISOR_OK) {
      node_free(term);
      node_free(n);
      return code;
    }
    n->children[n->child_count++] = term;
  }
  *out = n;
  return VISOR_OK;
}

static visor_code parse_and(parser *p, int depth, visor_filter_node **out) {
  return parse_chain(p, depth, TOKEN_AND, VISOR_FILTER_AND, parse_unary, out);
}

static visor_code parse_or(parser *p, int depth, visor_filter_node **out) {
  if (depth > VISOR_FILTER_MAX_DEPTH) return too_deep(p);
  return parse_chain(p, depth, TOKEN_OR, VISOR_FILTER_OR, parse_and, out);
}

visor_code visor_filter_parse(const char *text, unsigned fields, visor_filter_expr **out,
                              visor_error *err) {
  *out = NULL;
  if (!text) text = "";
  size_t len = strlen(text);
  if (len > VISOR_FILTER_MAX_LENGTH)
    return visor_error_set(err, VISOR_ERR_INVALID, "filter: longer than %d bytes (%zu)",
                           VISOR_FILTER_MAX_LENGTH, len);
  parser p = {.text = text, .fields = fields, .err = err};
  visor_filter_node *root = NULL;
  visor_code code = next(&p);
  if (code == VISOR_OK && p.tok.type == TOKEN_END)
    code = visor_error_set(err, VISOR_ERR_INVALID, "filter: the expression is empty");
  if (code == VISOR_OK) code = parse_or(&p, 1, &root);
  if (code == VISOR_OK && p.tok.type != TOKEN_END) {
    code = p.tok.type == TOKEN_RPAREN ? fail_at(&p, p.tok.start, "%s", "')' without a '('")
                                      : expected(&p, "AND, OR or the end");
  }
  free(p.tok.text);
  if (code != VISOR_OK) {
    node_free(root);
    return code;
  }
  visor_filter_expr *expr = calloc(1, sizeof *expr);
  if (!expr || !(expr->text = strdup(text))) {
    free(expr);
    node_free(root);
    return visor_error_set(err, VISOR_ERR_NOMEM, "filter: out of memory");
  }
  expr->root = root;
  *out = expr;
  return VISOR_OK;
}

void visor_filter_free(visor_filter_expr *expr) {
  if (!expr) return;
  node_free(expr->root);
  free(expr->text);
  free(expr);
}

const char *visor_filter_field_name(visor_filter_field field) {
  switch (field) {
  case VISOR_FILTER_CATEGORY:
    return "category";
  case VISOR_FILTER_PRICE:
    return "price";
  case VISOR_FILTER_SKU:
    return "sku";
  case VISOR_FILTER_NAME:
    return "name";
  case VISOR_FILTER_LABEL:
    return "label";
  }
  return "?";
}

const char *visor_filter_op_name(visor_filter_op op) {
  static const char *const names[] = {"=", "!=", "<", "<=", ">", ">="};
  return op <= VISOR_FILTER_GE ? names[op] : "?";
}

visor_filter_op visor_filter_op_negate(visor_filter_op op) {
  switch (op) {
  case VISOR_FILTER_EQ:
    return VISOR_FILTER_NE;
  case VISOR_FILTER_NE:
    return VISOR_FILTER_EQ;
  case VISOR_FILTER_LT:
    return VISOR_FILTER_GE;
  case VISOR_FILTER_LE:
    return VISOR_FILTER_GT;
  case VISOR_FILTER_GT:
    return VISOR_FILTER_LE;
  case VISOR_FILTER_GE:
    return VISOR_FILTER_LT;
  }
  return op;
}

static void format_value(visor_strbuf *buf, const visor_filter_value *v) {
  if (!v->text) {
    visor_strbuf_appendf(buf, "%.17g", v->number);
    return;
  }
  visor_strbuf_append(buf, "\"", 1);
  for (const char *c = v->text; *c; c++) {
    if (*c == '"' || *c == '\\') visor_strbuf_append(buf, "\\", 1);
    visor_strbuf_append(buf, c, 1);
  }
  visor_strbuf_append(buf, "\"", 1);
}

static void format_node(visor_strbuf *buf, const visor_filter_node *n) {
  if (n->kind == VISOR_FILTER_AND || n->kind == VISOR_FILTER_OR || n->kind == VISOR_FILTER_NOT) {
    visor_strbuf_appendf(buf, "(%s",
                         n->kind == VISOR_FILTER_AND  ? "AND"
                         : n->kind == VISOR_FILTER_OR ? "OR"
                                                      : "NOT");
    for (size_t i = 0; i < n->child_count; i++) {
      visor_strbuf_append(buf, " ", 1);
      format_node(buf, n->children[i]);
    }
    visor_strbuf_append(buf, ")", 1);
    return;
  }
  const char *op =
      n->kind == VISOR_FILTER_IN ? (n->negated ? "NOT IN" : "IN") : visor_filter_op_name(n->op);
  visor_strbuf_appendf(buf, "(%s ", op);
  if (n->field == VISOR_FILTER_LABEL)
    visor_strbuf_appendf(buf, "label:%s", n->label_key);
  else
    visor_strbuf_appendf(buf, "%s", visor_filter_field_name(n->field));
  for (size_t i = 0; i < n->value_count; i++) {
    visor_strbuf_append(buf, " ", 1);
    format_value(buf, &n->values[i]);
  }
  visor_strbuf_append(buf, ")", 1);
}

char *visor_filter_format(const visor_filter_expr *expr) {
  visor_strbuf buf;
  visor_strbuf_init(&buf);
  if (expr && expr->root) format_node(&buf, expr->root);
  visor_strbuf_append(&buf, "", 0);
  return visor_strbuf_take(&buf);
}
