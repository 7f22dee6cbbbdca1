// The arithmetic of editing a box on an image: moving it or dragging one of its corners by
// a distance in original-image pixels, kept inside the image, at least MIN_SIDE a side and
// on whole pixels (what the admin API accepts).
import type { Box, Size } from '../types';

/** The smallest side an edited box keeps, in original pixels (as drawing a box). */
export const MIN_SIDE = 8;

export type Grip = 'move' | 'nw' | 'ne' | 'sw' | 'se';

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), Math.max(lo, hi));

/** `box` after dragging `grip` by (dx, dy) original pixels on an image of `size`. */
export function dragBox(box: Box, grip: Grip, dx: number, dy: number, size: Size): Box {
  const min = Math.min(MIN_SIDE, size.width, size.height);
  let left = box.x;
  let top = box.y;
  let right = box.x + box.w;
  let bottom = box.y + box.h;
  if (grip === 'move') {
    const w = Math.min(box.w, size.width);
    const hgt = Math.min(box.h, size.height);
    left = clamp(box.x + dx, 0, size.width - w);
    top = clamp(box.y + dy, 0, size.height - hgt);
    right = left + w;
    bottom = top + hgt;
  } else {
    if (grip === 'nw' || grip === 'sw') left = clamp(left + dx, 0, right - min);
    if (grip === 'ne' || grip === 'se') right = clamp(right + dx, left + min, size.width);
    if (grip === 'nw' || grip === 'ne') top = clamp(top + dy, 0, bottom - min);
    if (grip === 'sw' || grip === 'se') bottom = clamp(bottom + dy, top + min, size.height);
  }
  return wholePixels({ x: left, y: top, w: right - left, h: bottom - top }, size);
}

/** The box on whole pixels, inside the image. */
export function wholePixels(box: Box, size: Size): Box {
  const x = clamp(Math.round(box.x), 0, size.width - 1);
  const y = clamp(Math.round(box.y), 0, size.height - 1);
  const w = clamp(Math.round(box.w), 1, size.width - x);
  const h = clamp(Math.round(box.h), 1, size.height - y);
  return { x, y, w, h };
}

export const sameBox = (a: Box, b: Box) => a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
