// Formatting for the admin pages: short ids and waiting times.
import { formatDuration } from './format';

/** The end of an id: Visor's ids are UUIDv7, whose first digits are the time and look alike. */
export const shortId = (id: string) => `…${id.slice(-8)}`;

/** A waiting time in whole seconds: "12 s", "3 min 5 s". */
export const formatAge = (seconds: number) => (seconds < 60 ? `${Math.max(0, Math.round(seconds))} s` : formatDuration(seconds * 1000));
