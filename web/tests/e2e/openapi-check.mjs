// Checks real API answers against the served OpenAPI document (src/api/openapi.json): the
// subset of OpenAPI 3.0 schemas the document uses ($ref, allOf, type, nullable, enum,
// properties, required, additionalProperties, items, format uuid / date-time). An object
// schema with properties allows no other property unless it says additionalProperties,
// so a field the server sends and the document does not describe is an error too.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

function resolve(doc, schema) {
  while (schema && schema.$ref) {
    const path = schema.$ref.replace(/^#\//, '').split('/');
    schema = path.reduce((node, key) => node?.[key], doc);
    if (!schema) throw new Error(`unresolved $ref ${path.join('/')}`);
  }
  return schema;
}

/** The errors of value against schema (empty when it conforms), each naming where. */
export function validate(doc, schema, value, where = '$', errors = []) {
  schema = resolve(doc, schema);
  if (!schema) return errors;
  if (value === null) {
    if (!schema.nullable) errors.push(`${where}: null, and the schema is not nullable`);
    return errors;
  }
  if (schema.allOf) for (const part of schema.allOf) validate(doc, part, value, where, errors);
  const type = schema.type;
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (type === 'integer') {
    if (!Number.isInteger(value)) errors.push(`${where}: ${JSON.stringify(value)} is not an integer`);
  } else if (type === 'number') {
    if (typeof value !== 'number') errors.push(`${where}: ${JSON.stringify(value)} is not a number`);
  } else if (type && type !== actual) {
    errors.push(`${where}: a ${actual}, the schema says ${type}`);
    return errors;
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${where}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  if (typeof value === 'string' && schema.format === 'uuid' && !UUID.test(value)) errors.push(`${where}: '${value}' is not a UUID`);
  if (typeof value === 'string' && schema.format === 'date-time' && !DATE_TIME.test(value)) errors.push(`${where}: '${value}' is not a date-time`);
  if (actual === 'array' && schema.items) value.forEach((item, i) => validate(doc, schema.items, item, `${where}[${i}]`, errors));
  if (actual === 'object' && !Array.isArray(value)) {
    const props = schema.properties ?? {};
    for (const key of schema.required ?? []) if (!(key in value)) errors.push(`${where}: no '${key}' (required)`);
    const extra = schema.additionalProperties;
    for (const [key, v] of Object.entries(value)) {
      if (key in props) validate(doc, props[key], v, `${where}.${key}`, errors);
      else if (extra && typeof extra === 'object') validate(doc, extra, v, `${where}.${key}`, errors);
      else if (extra !== true && (schema.properties || extra === false) && !schema.allOf) errors.push(`${where}: '${key}' is not in the document`);
    }
  }
  return errors;
}

/** The path template of the document that matches a concrete path, or null. */
export function matchPath(doc, path) {
  const exact = Object.keys(doc.paths).find((p) => p === path);
  if (exact) return exact;
  return (
    Object.keys(doc.paths).find((template) => {
      const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      return re.test(path);
    }) ?? null
  );
}

/** Errors of one answer (method, path without query, status, parsed JSON body) against doc. */
export function checkAnswer(doc, method, path, status, body) {
  const template = matchPath(doc, path);
  if (!template) return [`${method} ${path}: no such path in the document`];
  const operation = doc.paths[template][method.toLowerCase()];
  if (!operation) return [`${method} ${template}: no such operation in the document`];
  const response = resolve(doc, operation.responses[String(status)]);
  if (!response) return [`${method} ${template}: status ${status} is not documented`];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return body === undefined ? [] : [`${method} ${template} ${status}: a JSON answer, the document describes none`];
  return validate(doc, schema, body).map((e) => `${method} ${template} ${status}: ${e}`);
}
