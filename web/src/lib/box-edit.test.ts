import { describe, expect, it } from 'vitest';
import { dragBox, MIN_SIDE, sameBox, wholePixels } from './box-edit';

const size = { width: 400, height: 300 };
const box = { x: 100, y: 50, w: 120, h: 80 };

describe('dragBox', () => {
  it('moves a box and keeps it inside the image', () => {
    expect(dragBox(box, 'move', 10.4, -5.6, size)).toEqual({ x: 110, y: 44, w: 120, h: 80 });
    expect(dragBox(box, 'move', 1000, 1000, size)).toEqual({ x: 280, y: 220, w: 120, h: 80 });
    expect(dragBox(box, 'move', -1000, -1000, size)).toEqual({ x: 0, y: 0, w: 120, h: 80 });
  });
  it('drags each corner and leaves the opposite one where it was', () => {
    expect(dragBox(box, 'se', 20, 10, size)).toEqual({ x: 100, y: 50, w: 140, h: 90 });
    expect(dragBox(box, 'nw', -20, -10, size)).toEqual({ x: 80, y: 40, w: 140, h: 90 });
    expect(dragBox(box, 'ne', 20, -10, size)).toEqual({ x: 100, y: 40, w: 140, h: 90 });
    expect(dragBox(box, 'sw', -20, 10, size)).toEqual({ x: 80, y: 50, w: 140, h: 90 });
  });
  it('never makes a box smaller than MIN_SIDE or larger than the image', () => {
    const tiny = dragBox(box, 'se', -500, -500, size);
    expect(tiny.w).toBe(MIN_SIDE);
    expect(tiny.h).toBe(MIN_SIDE);
    const crossed = dragBox(box, 'nw', 500, 500, size);
    expect(crossed).toEqual({ x: 220 - MIN_SIDE, y: 130 - MIN_SIDE, w: MIN_SIDE, h: MIN_SIDE });
    expect(dragBox(box, 'se', 1000, 1000, size)).toEqual({ x: 100, y: 50, w: 300, h: 250 });
  });
  it('brings a detector box that spills over the edge inside on a move', () => {
    const spilling = { x: -3.5, y: 10.2, w: 410, h: 100 };
    const moved = dragBox(spilling, 'move', 0, 0, size);
    expect(moved.x).toBe(0);
    expect(moved.x + moved.w).toBeLessThanOrEqual(size.width);
  });
});

describe('wholePixels and sameBox', () => {
  it('rounds into the image', () => {
    expect(wholePixels({ x: 399.6, y: -2, w: 5, h: 400 }, size)).toEqual({ x: 399, y: 0, w: 1, h: 300 });
    expect(sameBox(box, { ...box })).toBe(true);
    expect(sameBox(box, { ...box, w: 121 })).toBe(false);
  });
});
