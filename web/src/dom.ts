// A small hyperscript helper: h('a', {href: '/', class: 'x', onclick: fn}, 'text', child).

export type Child = Node | string | number | null | undefined | false | Child[];

type Attrs = Record<string, unknown>;

const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate', 'textContent']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2), value as EventListener);
      } else if (name === 'style' && typeof value === 'object') {
        for (const [prop, v] of Object.entries(value as Record<string, string | number>)) {
          if (prop.startsWith('--')) el.style.setProperty(prop, String(v));
          else (el.style as unknown as Record<string, string>)[prop] = String(v);
        }
      } else if (name === 'dataset' && typeof value === 'object') {
        Object.assign(el.dataset, value);
      } else if (PROPS.has(name)) {
        (el as unknown as Record<string, unknown>)[name] = value;
      } else {
        el.setAttribute(name, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = 'v'): string {
  return `${prefix}-${++ids}`;
}

/** Waits ms, or rejects with AbortError when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError';
