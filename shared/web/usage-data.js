// The usage API's answer, read into rows the charts and tables share.
//
// GET /v1/wallet/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&granularity=day|month&group_by=category|market|template
// answers buckets (a day or a month in the wallet's reporting time zone) per group, each with
// messages, charged_messages, free_messages, conversations and the exact amount charged, and the
// range's totals. Rows may come flat (one per bucket × group) or nested (a bucket with `groups`).

import { add, compare, format, parse } from './decimal.js';

const BUCKET_KEYS = ['start', 'bucket', 'date', 'day', 'month', 'period'];
const GROUP_KEYS = ['group', 'key', 'category', 'market', 'template', 'tag', 'name'];

function first(object, keys) {
  for (const key of keys) {
    if (object[key] !== undefined && object[key] !== null && typeof object[key] !== 'object') {
      return String(object[key]);
    }
  }
  return null;
}

function amountText(value) {
  if (value === undefined || value === null) return '0';
  return typeof value === 'object' ? String(value.amount) : String(value);
}

function counts(source, bucket, group) {
  return {
    bucket,
    group: group === null || group === '' ? '(untagged)' : group,
    messages: Number(source.messages || 0),
    charged: Number(source.charged_messages || 0),
    free: Number(source.free_messages || 0),
    conversations: Number(source.conversations || 0),
    amount: amountText(source.amount),
  };
}

/** Flat rows {bucket, group, messages, charged, free, conversations, amount} and the totals. */
export function readUsage(answer) {
  const rows = [];
  for (const bucket of answer.buckets || []) {
    const start = first(bucket, BUCKET_KEYS) || '?';
    if (Array.isArray(bucket.groups)) {
      for (const group of bucket.groups) rows.push(counts(group, start, first(group, GROUP_KEYS)));
    } else {
      rows.push(counts(bucket, start, first(bucket, GROUP_KEYS)));
    }
  }
  rows.sort((a, b) => a.bucket.localeCompare(b.bucket) || a.group.localeCompare(b.group));
  const totals = answer.totals ? counts(answer.totals, 'total', 'total') : total(rows);
  const currency = answer.currency ||
    (answer.totals && answer.totals.amount && answer.totals.amount.currency) || '';
  return { rows, totals, currency, timeZone: answer.time_zone || answer.timezone || null };
}

/** The sum of rows, exact. */
export function total(rows) {
  let amount = parse('0');
  const sums = { bucket: 'total', group: 'total', messages: 0, charged: 0, free: 0, conversations: 0 };
  for (const row of rows) {
    sums.messages += row.messages;
    sums.charged += row.charged;
    sums.free += row.free;
    sums.conversations += row.conversations;
    amount = add(amount, parse(row.amount));
  }
  return { ...sums, amount: format(amount) };
}

/** Rows summed by group across the range, largest amount first. */
export function byGroup(rows) {
  const groups = new Map();
  for (const row of rows) {
    if (!groups.has(row.group)) groups.set(row.group, []);
    groups.get(row.group).push(row);
  }
  return [...groups.entries()]
    .map(([group, members]) => ({ ...total(members), group }))
    .sort((a, b) => compare(parse(b.amount), parse(a.amount)) || a.group.localeCompare(b.group));
}
