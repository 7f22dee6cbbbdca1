// Region boxes arrive in pixels of the upright original image; the page shows the image
// at some other size. These helpers map one to the other.
import type { Box, Size } from '../types';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Clamps a box to the image, so a detector box that spills over the edge stays drawable. */
export function clampBox(box: Box, image: Size): Box {
  const x = Math.min(Math.max(box.x, 0), image.width);
  const y = Math.min(Math.max(box.y, 0), image.height);
  const right = Math.min(Math.max(box.x + box.w, 0), image.width);
  const bottom = Math.min(Math.max(box.y + box.h, 0), image.height);
  return { x, y, w: Math.max(right - x, 0), h: Math.max(bottom - y, 0) };
}

/**
 * Where an image of `natural` size lands inside a `displayed` element with
 * `object-fit: contain` (centred, aspect ratio kept). With an element of the same aspect
 * ratio this is the whole element.
 */
export function containRect(natural: Size, displayed: Size): Rect {
  if (natural.width <= 0 || natural.height <= 0 || displayed.width <= 0 || displayed.height <= 0)
    return { left: 0, top: 0, width: 0, height: 0 };
  const scale = Math.min(displayed.width / natural.width, displayed.height / natural.height);
  const width = natural.width * scale;
  const height = natural.height * scale;
  return { left: (displayed.width - width) / 2, top: (displayed.height - height) / 2, width, height };
}

/** Maps a box in original-image pixels to CSS pixels of the displayed element. */
export function scaleBox(box: Box, natural: Size, displayed: Size): Rect {
  const fit = containRect(natural, displayed);
  if (fit.width === 0) return { left: 0, top: 0, width: 0, height: 0 };
  const b = clampBox(box, natural);
  const s = fit.width / natural.width;
  return { left: fit.left + b.x * s, top: fit.top + b.y * s, width: b.w * s, height: b.h * s };
}

/**
 * The box as percentages of the image (left, top, width, height), for CSS that follows the
 * image as it resizes: positioned inside a wrapper with the image's aspect ratio.
 */
export function boxPercent(box: Box, natural: Size): Rect {
  if (natural.width <= 0 || natural.height <= 0) return { left: 0, top: 0, width: 0, height: 0 };
  const b = clampBox(box, natural);
  const round = (v: number) => Math.round(v * 10000) / 10000;
  return {
    left: round((b.x / natural.width) * 100),
    top: round((b.y / natural.height) * 100),
    width: round((b.w / natural.width) * 100),
    height: round((b.h / natural.height) * 100),
  };
}

/** True when the box covers (nearly) the whole image: drawn as a frame, not a box. */
export function isWholeImage(box: Box, natural: Size): boolean {
  const b = clampBox(box, natural);
  return b.w * b.h >= 0.98 * natural.width * natural.height;
}

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#00a3a3', '#c71585', '#808000', '#9a6324', '#000075'];

/** A distinct, readable colour for the n-th region. */
export function regionColor(n: number): string {
  return PALETTE[((n % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}
