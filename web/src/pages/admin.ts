// The admin area's entry: the sign-in form (admin token and the name to act as, kept in
// session storage) and the admin home with its sections. Other admin pages call
// requireAdmin, which sends a signed-out person to the sign-in form and back.
import { checkAdmin } from '../api';
import { h, replace } from '../dom';
import { errorBanner, pageTitle } from '../components/ui';
import { clearAdminSession, getAdminSession, setAdminSession, type AdminSession } from '../lib/admin-session';
import { ApiError } from '../lib/errors';
import { navigate, type PageContext } from '../router';

/** The admin sections shown on the admin home, in order: [href, title, what it is for]. */
export const ADMIN_SECTIONS: [string, string, string][] = [
  ['/admin/review', 'Review queue', 'regions, products and searches the models were unsure of, corrected in place'],
  ['/admin/jobs', 'Job dashboard', 'jobs per state and kind, throughput, pause and resume the queue, retry failed jobs'],
  ['/admin/audit', 'Audit log', 'every correction: who, what, before and after; undo'],
  ['/admin/reindex', 'Re-index', 'run the current models again on a product, a category, the stale images or everything'],
];

/** The session, or null after sending the person to the sign-in form (it returns here). */
export function requireAdmin(): AdminSession | null {
  const session = getAdminSession();
  if (session) return session;
  navigate(`/admin/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
  return null;
}

/** A page's admin call failed with 401/403: the token no longer works, so sign out. */
export function adminCallRefused(error: unknown): boolean {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    clearAdminSession();
    return true;
  }
  return false;
}

function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/admin/sign-in') ? next : '/admin';
}

export function adminSignInPage({ root, query }: PageContext): void {
  const next = safeNext(query.get('next'));
  const token = h('input', { id: 'admin-token', name: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const actor = h('input', { id: 'admin-actor', name: 'actor', type: 'text', autocomplete: 'username', maxlength: '64', placeholder: 'e.g. alice' });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Sign in');
  const signIn = async () => {
    const session = { token: token.value.trim(), actor: actor.value.trim() };
    if (!session.token) {
      replace(status, errorBanner(new ApiError(400, 'invalid_argument', 'Enter the admin token')));
      return;
    }
    submit.disabled = true;
    try {
      await checkAdmin(session.token, session.actor);
      setAdminSession(session);
      navigate(next, { replace: true });
    } catch (e) {
      const refused = e instanceof ApiError && (e.status === 401 || e.status === 403);
      replace(status, errorBanner(refused ? new ApiError(e.status, e.code, 'That admin token was not accepted') : e));
    } finally {
      submit.disabled = false;
    }
  };
  replace(
    root,
    pageTitle('Admin sign-in', h('p', { class: 'lead' }, 'The admin token is the one Visor was started with (--admin-token or --admin-tokens). It stays in this tab only.')),
    h(
      'form',
      { class: 'admin-sign-in', novalidate: true, onsubmit: (e: Event) => (e.preventDefault(), void signIn()) },
      h('div', { class: 'field' }, h('label', { for: 'admin-token' }, 'Admin token'), token),
      h('div', { class: 'field' }, h('label', { for: 'admin-actor' }, 'Your name (recorded in the audit log)'), actor),
      status,
      h('div', { class: 'form-actions' }, submit),
    ),
  );
}

export function adminHomePage(ctx: PageContext): void {
  const session = requireAdmin();
  if (!session) return;
  replace(
    ctx.root,
    pageTitle('Admin', h('p', { class: 'lead' }, `Signed in${session.actor ? ` as ${session.actor}` : ''}.`)),
    h(
      'ul',
      { class: 'admin-sections' },
      ADMIN_SECTIONS.map(([href, title, text]) => h('li', null, h('a', { href }, title), ' — ', text)),
    ),
    h('button', { type: 'button', class: 'button button-secondary', onclick: () => (clearAdminSession(), navigate('/')) }, 'Sign out'),
  );
}
