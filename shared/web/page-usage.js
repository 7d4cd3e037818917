// Usage: messages and conversations per day stacked by category, spend per day, spend by market
// and by template tag (`biz_opaque_callback_data`), with the numbers behind each chart in a table.

import * as api from './api.js';
import { horizontalBars, stackedBars } from './chart.js';
import { $, addDays, h, isoDay, say } from './dom.js';
import { format, parse, ratio, sum } from './decimal.js';
import { byGroup, readUsage } from './usage-data.js';

const RANGE_DAYS_DEFAULT = 30;

function fetchUsage(from, to, granularity, groupBy) {
  return api.get(`/v1/wallet/usage${api.query({ from, to, granularity, group_by: groupBy })}`)
    .then(readUsage);
}

function table(caption, name, columns, rows) {
  return h('details', { open: true }, h('summary', {}, `The numbers: ${caption}`),
    h('div', { class: 'scroll' }, h('table', { class: 'data', 'data-table': name },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map(([title, , numeric]) =>
        h('th', { scope: 'col', class: numeric ? 'num' : null }, title)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, read, numeric]) =>
        h('td', { class: numeric ? 'num' : null }, read(row)))))))));
}

const COUNT_COLUMNS = [
  ['Messages', (row) => row.messages, true],
  ['Charged', (row) => row.charged, true],
  ['Free', (row) => row.free, true],
  ['Conversations', (row) => row.conversations, true],
];

function perBucket(rows, currency) {
  const buckets = [...new Set(rows.map((row) => row.bucket))].sort();
  const groups = [...new Set(rows.map((row) => row.group))].sort();
  const cell = (bucket, group) => rows.find((row) => row.bucket === bucket && row.group === group);
  const series = (read) => groups.map((group) => ({
    name: group, values: buckets.map((bucket) => { const row = cell(bucket, group); return row ? read(row) : 0; }),
  }));
  const spend = buckets.map((bucket) => format(sum(rows.filter((row) => row.bucket === bucket).map((row) => row.amount))));
  return [
    stackedBars({ title: 'Messages by category', buckets, series: series((row) => row.messages) }),
    stackedBars({ title: 'Conversations by category', buckets, series: series((row) => row.conversations) }),
    table('messages and conversations by category', 'category',
      [['Date', (row) => row.bucket], ['Category', (row) => row.group], ...COUNT_COLUMNS,
        [`Amount (${currency})`, (row) => row.amount, true]], rows),
    // Heights only: the exact amounts are the table's.
    stackedBars({ title: `Spend (${currency})`, buckets, series: [{ name: 'spend', values: spend.map(Number) }] }),
    table('spend per bucket', 'spend', [['Date', (row) => row.bucket], [`Amount (${currency})`, (row) => row.amount, true]],
      buckets.map((bucket, index) => ({ bucket, amount: spend[index] }))),
  ];
}

function perGroup(title, name, rows, currency) {
  const groups = byGroup(rows);
  const top = groups.length ? parse(groups[0].amount) : parse('1');
  return [
    horizontalBars({
      title: `${title} (${currency})`,
      items: groups.map((group) => ({ name: group.group, value: ratio(parse(group.amount), top), text: group.amount })),
    }),
    table(title.toLowerCase(), name, [[name === 'template' ? 'Template' : 'Market', (row) => row.group],
      ...COUNT_COLUMNS, [`Amount (${currency})`, (row) => row.amount, true]], groups),
  ];
}

async function show(event) {
  if (event) event.preventDefault();
  const from = $('usage-from').value;
  const to = $('usage-to').value;
  const granularity = $('usage-granularity').value;
  const charts = $('usage-charts');
  say($('usage-error'), null);
  try {
    const [category, market, template] = await Promise.all(['category', 'market', 'template']
      .map((groupBy) => fetchUsage(from, to, granularity, groupBy)));
    const currency = category.currency;
    const totals = category.totals;
    $('usage-totals').textContent = `${from} to ${to}: ${totals.messages} messages (${totals.charged} charged, ` +
      `${totals.free} free), ${totals.conversations} conversations, ${totals.amount} ${currency} charged` +
      (category.timeZone ? ` (days in ${category.timeZone})` : '');
    charts.replaceChildren(
      h('h2', {}, 'By category'), ...perBucket(category.rows, currency),
      h('h2', {}, 'By market'), ...perGroup('Spend by market', 'market', market.rows, currency),
      h('h2', {}, 'By template'), ...perGroup('Spend by template', 'template', template.rows, currency));
  } catch (error) {
    charts.replaceChildren();
    $('usage-totals').textContent = '';
    say($('usage-error'), error.message);
  }
}

function init() {
  $('usage-form').addEventListener('submit', show);
}

async function load({ wallet }) {
  const today = isoDay(new Date(), (wallet() && wallet().reporting_time_zone) || 'UTC');
  if (!$('usage-from').value) $('usage-from').value = addDays(today, -(RANGE_DAYS_DEFAULT - 1));
  if (!$('usage-to').value) $('usage-to').value = today;
  await show();
}

export default { init, load };
