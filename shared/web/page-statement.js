// Statement: the ledger a page at a time, newest first, with the balance after each entry; the
// statement and payment history as CSV files for a range; a month's statement, printable.

import * as api from './api.js';
import { $, addDays, h, isoDay, money, say, saveBlob, when } from './dom.js';

let cursors = [null]; // the cursor of each page shown so far; the last is the current page's
let nextCursor = null;

function entryRow(entry) {
  return h('tr', { 'data-entry': entry.id },
    h('td', {}, when(entry.posted_at)),
    h('td', {}, entry.description),
    h('td', {}, entry.kind.replace(/_/g, ' ')),
    h('td', { class: 'num' }, money(entry.amount)),
    h('td', { class: 'num' }, money(entry.balance_after)));
}

async function showPage() {
  const limit = $('st-limit').value;
  const cursor = cursors[cursors.length - 1];
  const answer = await api.get(`/v1/wallet/statement${api.query({ limit, cursor })}`);
  const body = $('st-table').querySelector('tbody');
  body.replaceChildren(...answer.entries.map(entryRow));
  if (answer.entries.length === 0) body.append(h('tr', {}, h('td', { colspan: 5 }, 'No entries.')));
  nextCursor = answer.next_cursor || null;
  $('st-older').disabled = !nextCursor;
  $('st-newer').disabled = cursors.length === 1;
  $('st-page').textContent = `Page ${cursors.length}`;
  say($('statement-error'), null);
}

function move(step) {
  if (step > 0 && nextCursor) cursors.push(nextCursor);
  if (step < 0 && cursors.length > 1) cursors.pop();
  showPage().catch((error) => say($('statement-error'), error.message));
}

async function downloadCsv(event) {
  event.preventDefault();
  say($('csv-error'), null);
  const what = $('csv-what').value;
  const from = $('csv-from').value;
  const to = $('csv-to').value;
  const path = what === 'purchases' ? '/v1/wallet/purchases' : '/v1/wallet/statement';
  try {
    const range = { format: 'csv', from: `${from}T00:00:00Z`, to: `${to}T23:59:59.999Z` };
    const file = await api.download(`${path}${api.query(range)}`, 'text/csv');
    saveBlob(file.blob, file.filename || `${what}-${from}-${to}.csv`);
  } catch (error) {
    say($('csv-error'), error.message);
  }
}

function label(key) {
  const text = key.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const isAmount = (value) => value && typeof value === 'object' && 'amount' in value && 'currency' in value;

function cell(value) {
  if (isAmount(value)) return money(value);
  if (value && typeof value === 'object') return JSON.stringify(value);
  return value === null || value === undefined ? '' : String(value);
}

/** The month's statement as the API words it: amounts as lists, breakdowns as tables. */
function renderValue(key, value) {
  if (Array.isArray(value)) {
    const columns = [...new Set(value.flatMap((item) => Object.keys(item || {})))];
    return h('div', { class: 'scroll' }, h('table', { class: 'data', 'data-part': key },
      h('caption', {}, label(key)),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, label(column))))),
      h('tbody', {}, value.map((item) =>
        h('tr', {}, columns.map((column) => h('td', { class: isAmount(item[column]) ? 'num' : null }, cell(item[column]))))))));
  }
  if (value && typeof value === 'object' && !isAmount(value)) {
    return h('section', { 'data-part': key }, h('h3', {}, label(key)),
      Object.entries(value).map(([inner, innerValue]) => renderValue(inner, innerValue)));
  }
  return h('p', { 'data-part': key }, h('strong', {}, `${label(key)}: `), cell(value));
}

async function showMonth(event) {
  event.preventDefault();
  say($('month-error'), null);
  const month = $('month-pick').value;
  const view = $('month-view');
  view.replaceChildren();
  $('month-print').hidden = true;
  try {
    const answer = await api.get(`/v1/wallet/statements/${encodeURIComponent(month)}`);
    view.append(h('h2', {}, `Statement for ${month}`),
      ...Object.entries(answer).map(([key, value]) => renderValue(key, value)));
    $('month-print').hidden = false;
  } catch (error) {
    say($('month-error'), error.message);
  }
}

function init() {
  $('st-older').addEventListener('click', () => move(1));
  $('st-newer').addEventListener('click', () => move(-1));
  $('st-limit').addEventListener('change', () => {
    cursors = [null];
    showPage().catch((error) => say($('statement-error'), error.message));
  });
  $('csv-form').addEventListener('submit', downloadCsv);
  $('month-form').addEventListener('submit', showMonth);
  $('month-print').addEventListener('click', () => window.print());
}

async function load({ wallet }) {
  const today = isoDay(new Date(), (wallet() && wallet().reporting_time_zone) || 'UTC');
  if (!$('csv-from').value) $('csv-from').value = addDays(today, -29);
  if (!$('csv-to').value) $('csv-to').value = today;
  if (!$('month-pick').value) $('month-pick').value = today.slice(0, 7);
  cursors = [null];
  await showPage();
}

export default { init, load };
