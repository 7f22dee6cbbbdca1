// "Right match" / "Wrong match" on a search result card, for a signed-in admin: confirms the
// match (the query region becomes a reference photo of the product) or rejects it (the
// product is demoted for photos like this one), says so, and offers an undo.
import { sendMatchFeedback, undoMatchFeedback, type Verdict } from '../admin-api/feedback';
import { h, replace } from '../dom';
import { getAdminSession } from '../lib/admin-session';
import { describeError } from '../lib/errors';
import { adminCallRefused } from '../pages/admin';

const DONE: Record<Verdict, string> = {
  confirm: 'Confirmed: this photo is now a reference of the product.',
  reject: 'Rejected: this product is demoted for photos like this one.',
};

/** The feedback controls of one result (null when no admin is signed in). */
export function matchFeedback(searchId: string, region: number, productId: string): HTMLElement | null {
  if (!getAdminSession()) return null;
  const status = h('span', { class: 'feedback-status', role: 'status' });
  const box = h('div', { class: 'match-feedback' });
  const button = (verdict: Verdict, text: string) =>
    h('button', { type: 'button', class: `button button-secondary feedback-${verdict}`, onclick: () => send(verdict) }, text);
  const idle = () => replace(box, button('confirm', 'Right match'), button('reject', 'Wrong match'), status);
  const fail = (error: unknown) => {
    status.textContent = adminCallRefused(error) ? 'Your admin session ended: sign in again.' : describeError(error).message;
    status.classList.add('error');
  };
  const send = async (verdict: Verdict) => {
    box.querySelectorAll('button').forEach((b) => (b.disabled = true));
    status.classList.remove('error');
    status.textContent = verdict === 'confirm' ? 'Confirming…' : 'Rejecting…';
    try {
      const answer = await sendMatchFeedback(searchId, { region, product_id: productId, verdict });
      status.textContent = DONE[verdict];
      const undo = h(
        'button',
        {
          type: 'button',
          class: 'button button-secondary feedback-undo',
          onclick: async () => {
            undo.disabled = true;
            try {
              await undoMatchFeedback(answer.audit.id);
              idle();
              status.textContent = 'Undone.';
            } catch (error) {
              undo.disabled = false;
              fail(error);
            }
          },
        },
        'Undo',
      );
      replace(box, status, undo);
      box.dataset.verdict = verdict;
    } catch (error) {
      box.querySelectorAll('button').forEach((b) => (b.disabled = false));
      fail(error);
    }
  };
  idle();
  return box;
}
