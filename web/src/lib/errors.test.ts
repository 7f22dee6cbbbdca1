import { describe, expect, it } from 'vitest';
import { ApiError, describeError, formErrorsFrom, isMissingRoute, parseApiError } from './errors';

const FIELDS = ['sku', 'name', 'description', 'category', 'labels', 'price', 'currency', 'images'];
const body = (code: string, message: string) => JSON.stringify({ error: { code, message, request_id: 'req-1' } });

describe('parseApiError', () => {
  it('reads the API error shape', () => {
    const e = parseApiError(400, body('invalid_argument', "field 'sku' is required"), 'hdr');
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe("field 'sku' is required");
    expect(e.requestId).toBe('req-1');
  });
  it('falls back to the status for a body that is not the API shape', () => {
    const e = parseApiError(502, '<html>Bad gateway</html>', 'hdr');
    expect(e.message).toBe('Bad gateway (HTTP 502)');
    expect(e.code).toBe('http_502');
    expect(e.requestId).toBe('hdr');
  });
  it('explains a network failure', () => {
    expect(parseApiError(0, '').message).toMatch(/cannot be reached/);
  });
});

describe('formErrorsFrom: API error → field errors', () => {
  it("maps \"field 'x' ...\" to the field", () => {
    const r = formErrorsFrom(new ApiError(400, 'invalid_argument', "field 'sku' has characters outside A-Z a-z 0-9 . _ -"), FIELDS);
    expect(r.fields).toEqual({ sku: "Field 'sku' has characters outside A-Z a-z 0-9 . _ -" });
    expect(r.general).toBeNull();
  });
  it('maps a nested label field to labels', () => {
    const r = formErrorsFrom(new ApiError(400, 'invalid_argument', "field 'labels.brand' must be a string of at most 256 characters"), FIELDS);
    expect(Object.keys(r.fields)).toEqual(['labels']);
  });
  it('maps a duplicate SKU (409) to sku', () => {
    const r = formErrorsFrom(new ApiError(409, 'conflict', "a product with sku 'A-1' already exists"), FIELDS);
    expect(r.fields.sku).toBe("A product with sku 'A-1' already exists");
  });
  it('maps a bad file (415, 413, file message) to the images', () => {
    expect(formErrorsFrom(new ApiError(415, 'unsupported_media_type', "file 'a.txt': the 3 bytes are not an image"), FIELDS).fields.images).toMatch(/not an image/);
    expect(formErrorsFrom(new ApiError(413, 'too_large', 'the upload is larger than 25 MB'), FIELDS).fields.images).toMatch(/larger/);
    expect(formErrorsFrom(new ApiError(400, 'invalid_argument', "file 'x.jpg' is empty"), FIELDS).fields.images).toBe("File 'x.jpg' is empty");
    expect(formErrorsFrom(new ApiError(400, 'invalid_argument', '21 images in one request, the limit is 20'), FIELDS).fields.images).toMatch(/limit/);
  });
  it('puts a field the form does not have, or anything else, in general', () => {
    expect(formErrorsFrom(new ApiError(400, 'invalid_argument', "field 'weight' is required"), FIELDS)).toEqual({ fields: {}, general: "Field 'weight' is required" });
    expect(formErrorsFrom(new ApiError(400, 'invalid_argument', "unknown field 'color'"), FIELDS).general).toBe("Unknown field 'color'");
    expect(formErrorsFrom(new ApiError(500, 'internal', 'boom'), FIELDS).general).toBe('Boom');
    expect(formErrorsFrom(new Error('offline'), FIELDS).general).toBe('offline');
  });
});

describe('describeError and isMissingRoute', () => {
  it('describes an API error with status, code and request id', () => {
    expect(describeError(new ApiError(415, 'unsupported_media_type', 'not an image', 'r1'))).toEqual({
      message: 'Not an image',
      detail: 'HTTP 415 · unsupported_media_type · request r1',
    });
  });
  it('knows the 404 of a missing route from an unknown id', () => {
    expect(isMissingRoute(new ApiError(404, 'not_found', 'no route for POST /api/v1/searches'))).toBe(true);
    expect(isMissingRoute(new ApiError(404, 'not_found', 'search 123 not found'))).toBe(false);
    expect(isMissingRoute(new Error('no route for x'))).toBe(false);
  });
});
