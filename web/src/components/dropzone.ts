// A drop target for image files that is also a file picker (and, on a phone, the camera),
// keyboard reachable through its real <input type=file>.
import { h, uid } from '../dom';

export interface DropzoneOptions {
  label: string;
  hint?: string;
  multiple?: boolean;
  /** "environment" opens the rear camera on phones */
  capture?: 'environment' | 'user';
  accept?: string;
  name?: string;
  id?: string;
  describedBy?: string;
  onFiles: (files: File[]) => void;
}

export function dropzone(options: DropzoneOptions): { el: HTMLElement; input: HTMLInputElement } {
  const id = options.id ?? uid('file');
  const input = h('input', {
    type: 'file',
    id,
    name: options.name,
    class: 'dropzone-input',
    accept: options.accept ?? 'image/*',
    multiple: options.multiple ?? false,
    'aria-describedby': options.describedBy,
    onchange: () => {
      const files = Array.from(input.files ?? []);
      if (files.length) options.onFiles(files);
      input.value = '';
    },
  });
  const camera = options.capture
    ? h('input', {
        type: 'file',
        accept: 'image/*',
        capture: options.capture,
        class: 'visually-hidden',
        tabindex: '-1',
        'aria-hidden': 'true',
        onchange: (e: Event) => {
          const t = e.target as HTMLInputElement;
          const files = Array.from(t.files ?? []);
          if (files.length) options.onFiles(files);
          t.value = '';
        },
      })
    : null;
  const el = h(
    'div',
    { class: 'dropzone' },
    input,
    h(
      'label',
      { for: id, class: 'dropzone-label' },
      h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }, '⤓'),
      h('span', { class: 'dropzone-title' }, options.label),
      options.hint ? h('span', { class: 'dropzone-hint' }, options.hint) : null,
    ),
    camera
      ? h('button', { type: 'button', class: 'button button-secondary camera-button', onclick: () => camera.click() }, 'Take a photo')
      : null,
    camera,
  );
  let depth = 0;
  el.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    el.classList.add('dropzone-over');
  });
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  el.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) el.classList.remove('dropzone-over');
  });
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    el.classList.remove('dropzone-over');
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (files.length) options.onFiles(options.multiple ? files : files.slice(0, 1));
  });
  return { el, input };
}

/** Calls back with the image files pasted anywhere on the page until the signal aborts. */
export function onPasteImages(signal: AbortSignal, callback: (files: File[]) => void): void {
  document.addEventListener(
    'paste',
    (event) => {
      const target = event.target as HTMLElement | null;
      const items = Array.from(event.clipboardData?.items ?? []);
      const files = items.filter((i) => i.kind === 'file' && i.type.startsWith('image/')).map((i) => i.getAsFile()).filter((f): f is File => !!f);
      if (!files.length) return;
      // Pasting text into a field stays text; an image goes to us.
      if (target && (target.tagName === 'TEXTAREA' || (target.tagName === 'INPUT' && (target as HTMLInputElement).type === 'text')) && !files.length) return;
      event.preventDefault();
      callback(files);
    },
    { signal },
  );
}
