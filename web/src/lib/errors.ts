// API errors: the one JSON shape the server answers with, mapped to what a person sees
// (a message next to the form field it names, or one message for the whole form).

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

/** Builds an ApiError from a status and a response body, whatever the body holds. */
export function parseApiError(status: number, body: string, requestId: string | null = null): ApiError {
  let parsed: unknown = null;
  try {
    parsed = body ? JSON.parse(body) : null;
  } catch {
    parsed = null;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; request_id?: unknown } } | null)?.error;
  if (error && typeof error.message === 'string') {
    return new ApiError(
      status,
      typeof error.code === 'string' ? error.code : 'error',
      error.message,
      typeof error.request_id === 'string' ? error.request_id : requestId,
    );
  }
  if (status === 0) return new ApiError(0, 'network', 'The Visor server cannot be reached. Is it running?', requestId);
  const text = STATUS_TEXT[status] ?? 'Error';
  return new ApiError(status, 'http_' + status, `${text} (HTTP ${status})`, requestId);
}

export interface FormErrors {
  /** field name → message, for fields the form has */
  fields: Record<string, string>;
  /** what does not belong to one field */
  general: string | null;
}

/** Upper-cases the first letter, for a message shown on its own. */
export function sentence(message: string): string {
  return message ? message[0]!.toUpperCase() + message.slice(1) : message;
}

/**
 * Maps an API error to the form: "field 'sku' ..." goes to the sku input ("field
 * 'labels.brand' ..." to labels), a duplicate SKU (409) to sku, a bad file (413/415, or a
 * message about "file '...'") to the image picker (`fileField`). Anything else, or a field
 * the form does not have, is general.
 */
export function formErrorsFrom(error: unknown, formFields: readonly string[], fileField = 'images'): FormErrors {
  const result: FormErrors = { fields: {}, general: null };
  if (!(error instanceof ApiError)) {
    result.general = error instanceof Error ? error.message : String(error);
    return result;
  }
  const message = error.message;
  const put = (field: string) => {
    if (formFields.includes(field)) result.fields[field] = sentence(message);
    else result.general = sentence(message);
  };
  const named = /^field '([^'.]+)(?:\.[^']*)?'/.exec(message);
  if (named) {
    put(named[1]!);
  } else if (error.status === 409 && /\bsku\b/i.test(message)) {
    put('sku');
  } else if (error.status === 413 || error.status === 415 || /^(file '|\d+ images in one request)/.test(message)) {
    put(fileField);
  } else {
    result.general = sentence(message);
  }
  return result;
}

/** One line for an error banner: the message, and the status and code for a report. */
export function describeError(error: unknown): { message: string; detail: string | null } {
  if (error instanceof ApiError) {
    const bits = [error.status ? `HTTP ${error.status}` : null, error.code, error.requestId ? `request ${error.requestId}` : null];
    return { message: sentence(error.message), detail: bits.filter(Boolean).join(' · ') || null };
  }
  if (error instanceof Error) return { message: sentence(error.message), detail: null };
  return { message: String(error), detail: null };
}

/** True for the 404 a route the server does not have yet answers with. */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && /^no route for /.test(error.message);
}
