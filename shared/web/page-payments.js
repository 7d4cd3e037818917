// Payments: the purchase history with each purchase's status, newest first, a page at a time.

import * as api from './api.js';
import { $, h, money, say, when } from './dom.js';

const PAGE_LIMIT = 20;
let cursor = null;

function row(purchase) {
  return h('tr', { 'data-purchase': purchase.purchase_id },
    h('td', {}, when(purchase.created_at)),
    h('td', { class: 'num' }, purchase.quote.credits),
    h('td', { class: 'num' }, money(purchase.quote.total)),
    h('td', { class: `status-${purchase.status}` }, purchase.status),
    h('td', {}, when(purchase.paid_at)));
}

async function page(append) {
  const answer = await api.get(`/v1/wallet/purchases${api.query({ limit: PAGE_LIMIT, cursor: append ? cursor : null })}`);
  const body = $('pay-table').querySelector('tbody');
  if (!append) body.replaceChildren();
  body.append(...answer.purchases.map(row));
  if (!append && answer.purchases.length === 0) {
    body.append(h('tr', {}, h('td', { colspan: 5 }, 'No purchases yet.')));
  }
  cursor = answer.next_cursor || null;
  $('pay-more').hidden = !cursor;
}

function init() {
  $('pay-more').addEventListener('click', () =>
    page(true).catch((error) => say($('payments-error'), error.message)));
}

async function load() {
  say($('payments-error'), null);
  await page(false);
}

export default { init, load };
