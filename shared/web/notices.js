// The notice banner: the latest unread notice that asks for action (low or used-up credits, a
// failed or disabled auto-recharge) from the in-app feed (GET /v1/wallet/notices), worded for a
// person, with a link to where it is acted on (Buy Credits or the card and auto-recharge
// settings) and a Dismiss button that marks it read through the API (PUT
// /v1/wallet/notices/read-marker), so it stays dismissed in every tab and on the next visit.

import * as api from './api.js';
import { $, h, money } from './dom.js';

// One page of the feed is read: the banner shows the newest actionable notice among the newest
// notices, and older ones are in the past.
const FEED_PAGE = 20;
const TO_BUY = { href: '#buy', label: 'Buy credits' };
const TO_CARD = { href: '#auto-recharge', label: 'Check your card and auto-recharge' };

/** What the banner says for a notice of each actionable type, and where it leads. */
const WORDING = {
  'balance.low': (data) => ({
    text: `Your available credits (${money(data.available || data.balance)}) fell below your low-balance threshold of ${money(data.threshold)}.`,
    action: TO_BUY,
  }),
  'balance.depleted': () => ({
    text: 'Your available credits are used up: sending is paused until you add more.',
    action: TO_BUY,
  }),
  'recharge.failed': (data) => ({
    text: `Auto-recharge could not buy ${data.credits} credits (${money(data.amount)}): ${data.reason}.`,
    action: TO_CARD,
  }),
  'auto_recharge.disabled': (data) => ({
    text: `Auto-recharge was turned off: ${data.reason}.`,
    action: TO_CARD,
  }),
};

/** The newest unread notice the banner speaks of, or null. */
export function actionable(feed) {
  return feed.notices.find((notice) => notice.unread && WORDING[notice.type]) || null;
}

async function dismiss(notice, button) {
  button.disabled = true;
  try {
    await api.put('/v1/wallet/notices/read-marker', { read_through: notice.stored_at });
  } catch (error) {
    button.disabled = false;
    $('notice-error').textContent = error.message;
    $('notice-error').hidden = false;
    return;
  }
  await refreshNotices();
  $('main').focus();
}

function show(notice) {
  const element = $('notice-banner');
  const { text, action } = WORDING[notice.type](notice.event.data || {});
  const button = h('button', { type: 'button', class: 'link', id: 'notice-dismiss' }, 'Dismiss');
  button.addEventListener('click', () => dismiss(notice, button));
  element.replaceChildren(
    h('span', { id: 'notice-text' }, text, ' '),
    h('a', { href: action.href, id: 'notice-action' }, action.label),
    ' ',
    button,
    h('span', { class: 'error', id: 'notice-error', role: 'alert', hidden: true }),
  );
  element.dataset.notice = notice.id;
  element.dataset.type = notice.type;
  element.hidden = false;
}

/** Reads the newest notices and shows the banner (or hides it when nothing unread asks). */
export async function refreshNotices() {
  const element = $('notice-banner');
  let feed;
  try {
    feed = await api.get(`/v1/wallet/notices${api.query({ limit: FEED_PAGE })}`);
  } catch (error) {
    // The banner is a convenience: a feed that cannot be read now is read on the next refresh.
    if (error.status === 401) throw error;
    return;
  }
  const notice = actionable(feed);
  if (!notice) {
    element.hidden = true;
    element.replaceChildren();
    delete element.dataset.notice;
    return;
  }
  if (element.dataset.notice !== notice.id || element.hidden) show(notice);
}
