import { describe, expect, it } from 'vitest';
import { boxBetween } from './box-draw';

describe('boxBetween', () => {
  const size = { width: 200, height: 100 };
  it('spans the two points whichever way the drag went', () => {
    expect(boxBetween({ x: 150.4, y: 80 }, { x: 50, y: 20.6 }, size)).toEqual({ x: 50, y: 21, w: 100, h: 59 });
  });
  it('stays inside the image', () => {
    expect(boxBetween({ x: -10, y: -5 }, { x: 260, y: 140 }, size)).toEqual({ x: 0, y: 0, w: 200, h: 100 });
  });
});
