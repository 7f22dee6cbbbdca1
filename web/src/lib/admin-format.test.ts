import { describe, expect, it } from 'vitest';
import { formatAge, shortId, undoRefusal } from './admin-format';
import { ApiError } from './errors';

describe('admin-format', () => {
  it('shortId keeps the end of a UUIDv7 (its start is the time)', () => {
    expect(shortId('01a234e7-8d14-701f-ba6a-fa2502419aac')).toBe('…02419aac');
  });
  it('formatAge', () => {
    expect(formatAge(0)).toBe('0 s');
    expect(formatAge(12)).toBe('12 s');
    expect(formatAge(185)).toBe('3 min 5 s');
  });
  it('undoRefusal explains each 409 of the undo route, and nothing else', () => {
    const conflict = (message: string) => new ApiError(409, 'conflict', message);
    expect(undoRefusal(conflict('audit entry 01a2 was undone already'))).toBe('This correction was already undone.');
    expect(undoRefusal(conflict('audit entry 01a2 is an undo; make the correction again instead'))).toMatch(/cannot be undone/);
    expect(undoRefusal(conflict('audit entry 01a2 cannot be undone: the region label changed since'))).toBe(
      'It cannot be undone: the region label changed since, and undoing it would overwrite that.',
    );
    expect(undoRefusal(conflict('something else'))).toBe('something else');
    expect(undoRefusal(new ApiError(404, 'not_found', 'no such entry'))).toBeNull();
    expect(undoRefusal(new Error('x'))).toBeNull();
  });
});
