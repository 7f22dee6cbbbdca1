// The admin session of this browser tab: the admin token and the name given at sign-in,
// kept in session storage (gone when the tab closes), and the headers every admin call
// carries (Authorization: Bearer, X-Visor-Actor).

export interface AdminSession {
  token: string;
  actor: string;
}

const KEY = 'visor.admin';
const listeners = new Set<(session: AdminSession | null) => void>();

export function getAdminSession(): AdminSession | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<AdminSession>;
    if (typeof parsed.token !== 'string' || !parsed.token) return null;
    return { token: parsed.token, actor: typeof parsed.actor === 'string' ? parsed.actor : '' };
  } catch {
    return null;
  }
}

export function setAdminSession(session: AdminSession): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
  listeners.forEach((fn) => fn(session));
}

export function clearAdminSession(): void {
  sessionStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(null));
}

/** Calls fn whenever the session starts or ends; returns the unsubscribe function. */
export function onAdminSessionChange(fn: (session: AdminSession | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The headers of an admin call (empty when signed out: the server then answers 401). */
export function adminHeaders(session: AdminSession | null = getAdminSession()): Record<string, string> {
  if (!session) return {};
  const headers: Record<string, string> = { Authorization: `Bearer ${session.token}` };
  if (session.actor) headers['X-Visor-Actor'] = session.actor;
  return headers;
}
