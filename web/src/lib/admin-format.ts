// Words and formats for the admin pages: short ids, waiting times, why an undo was refused.
import { ApiError } from './errors';
import { formatDuration } from './format';

/** The end of an id: Visor's ids are UUIDv7, whose first digits are the time and look alike. */
export const shortId = (id: string) => `…${id.slice(-8)}`;

/** A waiting time in whole seconds: "12 s", "3 min 5 s". */
export const formatAge = (seconds: number) => (seconds < 60 ? `${Math.max(0, Math.round(seconds))} s` : formatDuration(seconds * 1000));

/** What a refused undo means, in words. */
export function undoRefusal(error: unknown): string | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  if (/undone already/.test(error.message)) return 'This correction was already undone.';
  if (/is an undo/.test(error.message)) return 'An undo cannot be undone: make the correction again instead.';
  if (/changed since/.test(error.message)) return `It cannot be undone: ${error.message.replace(/^audit entry \S+ cannot be undone: /, '')}, and undoing it would overwrite that.`;
  return error.message;
}
