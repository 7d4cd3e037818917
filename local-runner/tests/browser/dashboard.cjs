// Clicks through the credits dashboard in headless Chromium (playwright-core on Debian's
// chromium) against the runner that dashboard_browser.rs started, checks each page against the
// API, and saves a screenshot of each page. Every request must go to the runner on loopback.
// Exits non-zero on the first failed check.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const {
  BASE, DEMO, PHONE_NUMBER_ID, WAIT_MS, state, api, ok, served, jwt, status, sendWebhook, until, same,
  newPage, shot, open, text,
} = require('./support.cjs');

const DASHBOARD_URL = process.env.DASHBOARD_URL;
const OPERATOR = process.env.OPERATOR_TOKEN;
const OTHER = process.env.OTHER_TOKEN;
const SHOTS = process.env.SCREENSHOT_DIR;
const WAITING = [];
const figures = {};
const steps = [];
const step = (name, run) => steps.push({ name, run });

// --- the walk-through ---------------------------------------------------------------------------

let page;
const usage = {};

step('setup: route the sample number to demo, a flat rate card, a wallet for another account', async () => {
  await ok('PUT', `/v1/operator/accounts/demo/phone-numbers/${PHONE_NUMBER_ID}`, OPERATOR);
  const card = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../shared/rate-cards/zoho-flat-usd.json'), 'utf8'));
  await ok('POST', '/v1/operator/rate-cards', OPERATOR, card);
  await ok('POST', '/v1/operator/accounts/other/wallet', OPERATOR, { currency: 'USD' });
  usage.served = await served('/v1/wallet/usage?from=2026-01-01&to=2026-01-02&granularity=day&group_by=category');
  usage.monthly = await served('/v1/wallet/statements/2026-01');
});

step('the printed URL signs in: the token moves to sessionStorage, the page has strict headers', async () => {
  page = await newPage();
  const started = Date.now();
  const response = await page.goto(DASHBOARD_URL);
  await page.waitForSelector('body[data-ready="overview"]', { timeout: WAIT_MS });
  figures.loadReadyMs = Date.now() - started;
  figures.domContentLoadedMs = await page.evaluate(() =>
    Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd));
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.equal(await page.evaluate(() => location.hash), '#overview');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('imcredits.token')), DEMO);
  assert.equal(await text(page, '#ov-balance'), '0.00 USD');
  assert.equal(await text(page, '#ov-sending'), 'Sending paused — buy credits');
  assert.match(await text(page, '#banner'), /sending is paused\. Buy credits/);
  assert.equal(await page.getAttribute('#banner a', 'href'), '#buy');
  await shot(page, '01-overview-empty');
});

step('auto-recharge before any purchase: the 409 as the API words it, and how a card is saved', async () => {
  await open(page, 'auto-recharge');
  await page.check('#ar-enabled');
  await page.fill('#ar-minimum', '5.00');
  await page.fill('#ar-credits', '10');
  await page.click('#ar-save');
  await page.waitForSelector('#ar-error:not([hidden])');
  const api409 = await api('PUT', '/v1/wallet/auto-recharge', DEMO, { enabled: true, minimum_balance: '5.00', credits: 10 });
  assert.equal(api409.status, 409);
  const shown = await text(page, '#ar-error');
  assert.ok(shown.includes(api409.json.error.message), shown);
  assert.match(shown, /Your first purchase by card saves the card/);
  await shot(page, '02-auto-recharge-no-card');
});

step('the quote for 3 credits: 6.00 + 0.18 = 6.18', async () => {
  await open(page, 'buy');
  await page.fill('#buy-credits', '3');
  await page.waitForFunction(() => document.getElementById('q-total').textContent === '6.18 USD', null, { timeout: WAIT_MS });
  assert.equal(await text(page, '#q-subtotal'), '6.00 USD');
  assert.equal(await text(page, '#q-fee'), '0.18 USD');
  assert.equal(await text(page, '#q-rate'), '3%');
  await shot(page, '03-buy-quote');
});

let checkoutUrl;
step('a double click on Make Payment buys once; after a reload the same attempt gets the same purchase', async () => {
  await page.dblclick('#buy-pay');
  await page.waitForURL(/\/local\/fake-checkout\//, { timeout: WAIT_MS });
  checkoutUrl = page.url();
  let history = await ok('GET', '/v1/wallet/purchases', DEMO);
  assert.equal(history.purchases.length, 1, JSON.stringify(history));
  await page.goto(`${BASE}/#buy`);
  await page.waitForSelector('body[data-ready="buy"]');
  assert.equal(await page.inputValue('#buy-credits'), '3');
  await page.click('#buy-pay');
  await page.waitForURL(/\/local\/fake-checkout\//, { timeout: WAIT_MS });
  assert.equal(page.url(), checkoutUrl);
  history = await ok('GET', '/v1/wallet/purchases', DEMO);
  assert.equal(history.purchases.length, 1);
});

step('fake pay: the page shows the purchase paid and the balance risen by 6.00', async () => {
  await page.click('button:has-text("Pay")');
  await page.waitForSelector('text=Paid', { timeout: WAIT_MS });
  await page.goto(`${BASE}/#buy`);
  await page.waitForSelector('body[data-purchase="paid"]', { timeout: WAIT_MS });
  assert.match(await text(page, '#buy-status'), /Purchase paid: 3 credits added\. New balance: 6\.00 USD/);
  const wallet = await ok('GET', '/v1/wallet', DEMO);
  assert.equal(wallet.balance.amount, '6.00');
  assert.match(await text(page, '#top-balance'), /Available Credits: 6\.00 USD/);
  await shot(page, '04-buy-paid');
  await open(page, 'payments');
  const rows = await page.locator('#pay-table tbody tr').all();
  assert.equal(rows.length, 1);
  assert.match(await rows[0].innerText(), /3\s+6\.18 USD\s+paid/);
  await shot(page, '05-payments');
});

step('auto-recharge saves with the message', async () => {
  await open(page, 'auto-recharge');
  await page.check('#ar-enabled');
  await page.fill('#ar-minimum', '1.00');
  await page.fill('#ar-credits', '10');
  await page.click('#ar-save');
  await page.waitForSelector('#ar-message:not([hidden])');
  assert.equal(await text(page, '#ar-message'), 'Auto-Recharge Updated Successfully');
  assert.ok(await page.locator('#ar-error').isHidden());
  const wallet = await ok('GET', '/v1/wallet', DEMO);
  assert.equal(wallet.auto_recharge.enabled, true);
  await shot(page, '06-auto-recharge-saved');
});

step('the low-balance threshold is edited, and the banner follows it', async () => {
  await open(page, 'alerts');
  await page.fill('#al-threshold', 'seven');
  await page.click('#alerts-form button');
  await page.waitForSelector('#al-error:not([hidden])');
  const refused = await api('PUT', '/v1/wallet/alerts', DEMO, { low_balance_threshold: 'seven' });
  assert.equal(await text(page, '#al-error'), refused.json.error.message);
  await page.fill('#al-threshold', '7.00');
  await page.click('#alerts-form button');
  await page.waitForSelector('#al-message:not([hidden])');
  // The message shows when the save answers; the banner follows the wallet read after it.
  await page.waitForFunction(() => /threshold of 7\.00 USD/.test(document.getElementById('banner').textContent));
  assert.match(await text(page, '#banner'), /below your low-balance threshold of 7\.00 USD/);
  await shot(page, '07-alerts');
});

const burst = [
  ...[0, 1, 2, 3, 4].map((i) => ['marketing', `1650555${String(1000 + i)}`, i < 3 ? 'template:welcome_v2' : null]),
  ...[0, 1, 2, 3].map((i) => ['utility', `9198765${String(43210 + i)}`, 'template:order_update']),
  ...[0, 1, 2].map((i) => ['authentication', `4477009${String(11000 + i)}`, null]),
];

step('a webhook burst of 12 known charges reaches the ledger', async () => {
  for (const [index, [category, recipient, tag]] of burst.entries()) {
    await sendWebhook(status(index, category, recipient, tag));
  }
  await until('13 entries', async () => (await ok('GET', '/v1/wallet', DEMO)).entry_count === 13);
});

/** What the ledger says the usage is, by a metadata field: { key: { messages, amount } }. */
async function ledgerUsage(field) {
  const statement = await ok('GET', '/v1/wallet/statement?limit=100', DEMO);
  const totals = {};
  for (const entry of statement.entries.filter((one) => one.kind === 'charge')) {
    const key = entry.metadata[field] || '(untagged)';
    totals[key] = totals[key] || { messages: 0, cents: 0 };
    totals[key].messages += 1;
    totals[key].cents += Math.round(-Number(entry.amount.amount) * 10_000);
  }
  return totals;
}

async function tableRows(page, name) {
  return page.$$eval(`table[data-table="${name}"] tbody tr`, (rows) =>
    rows.map((row) => [...row.cells].map((cell) => cell.textContent)));
}

step('usage: the tables and charts show exactly the burst, by category, market and template', async () => {
  await open(page, 'usage');
  if (!usage.served) {
    WAITING.push('usage table and chart (GET /v1/wallet/usage, branch apicontract)');
    const answer = await api('GET', '/v1/wallet/usage?from=2026-01-01&to=2026-01-02&granularity=day&group_by=category', DEMO);
    await page.waitForSelector('#usage-error:not([hidden])');
    assert.equal(await text(page, '#usage-error'), answer.json.error.message);
    await shot(page, '08-usage');
    return;
  }
  await page.waitForSelector('table[data-table="category"]', { timeout: WAIT_MS });
  for (const [name, field] of [['category', 'category'], ['market', 'market'], ['template', 'tag']]) {
    const expected = await ledgerUsage(field);
    const rows = await tableRows(page, name);
    const groupColumn = name === 'category' ? 1 : 0;
    const seen = {};
    for (const row of rows) {
      const key = row[groupColumn];
      seen[key] = seen[key] || { messages: 0, cents: 0 };
      seen[key].messages += Number(row[groupColumn + 1]);
      seen[key].cents += Math.round(Number(row[row.length - 1]) * 10_000);
    }
    assert.deepEqual(seen, expected, `${name}: ${JSON.stringify(rows)}`);
  }
  const bars = await page.$$eval('figure.chart rect[data-series="marketing"]', (rects) =>
    rects.map((rect) => Number(rect.getAttribute('data-value'))));
  assert.equal(bars.reduce((a, b) => a + b, 0), 5);
  await shot(page, '08-usage');
});

step('overview: spend this month, last 30 days, and days of credit left at the last 7 days\' pace', async () => {
  await open(page, 'overview');
  const balance = await text(page, '#ov-balance');
  assert.ok(balance.endsWith(' USD') && same(balance.split(' ')[0], '5.85'), balance);
  if (!usage.served) {
    WAITING.push('overview spend and days of credit left (GET /v1/wallet/usage, branch apicontract)');
    assert.equal(await text(page, '#overview-error'), 'no such route');
  } else {
    assert.ok(same((await text(page, '#ov-month')).split(' ')[0], '0.15'));
    assert.ok(same((await text(page, '#ov-30')).split(' ')[0], '0.15'));
    assert.equal(await text(page, '#ov-days'), '273 days'); // floor(5.85 × 7 / 0.15)
  }
  await shot(page, '09-overview');
});

step('statement: pages of 10, newest first, as the ledger has them', async () => {
  await open(page, 'statement');
  await page.selectOption('#st-limit', '10');
  const first = await ok('GET', '/v1/wallet/statement?limit=10', DEMO);
  const second = await ok('GET', `/v1/wallet/statement?limit=10&cursor=${encodeURIComponent(first.next_cursor)}`, DEMO);
  const ids = () => page.$$eval('#st-table tbody tr', (rows) => rows.map((row) => row.dataset.entry));
  await page.waitForFunction(() => document.querySelectorAll('#st-table tbody tr').length === 10);
  assert.deepEqual(await ids(), first.entries.map((entry) => entry.id));
  const balances = await page.$$eval('#st-table tbody tr td:last-child', (cells) => cells.map((cell) => cell.textContent));
  assert.deepEqual(balances, first.entries.map((entry) => `${entry.balance_after.amount} USD`));
  await shot(page, '10-statement');
  await page.click('#st-older');
  await page.waitForFunction(() => document.getElementById('st-page').textContent === 'Page 2');
  assert.deepEqual(await ids(), second.entries.map((entry) => entry.id));
  assert.equal(second.entries.length, 3);
  assert.ok(await page.locator('#st-older').isDisabled());
  await page.click('#st-newer');
  await page.waitForFunction(() => document.getElementById('st-page').textContent === 'Page 1');
  assert.deepEqual(await ids(), first.entries.map((entry) => entry.id));
});

step('the statement CSV matches the ledger', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10);
  const probe = await api('GET', `/v1/wallet/statement?format=csv&from=${from}T00:00:00Z&to=${today}T23:59:59.999Z`, DEMO);
  if (probe.status === 422 && probe.json && probe.json.error.message.startsWith('format: unknown')) {
    WAITING.push('statement CSV (?format=csv, branch apicontract)');
    await page.click('#csv-download');
    await page.waitForSelector('#csv-error:not([hidden])');
    assert.equal(await text(page, '#csv-error'), probe.json.error.message);
    return;
  }
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-download')]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
  fs.copyFileSync(await download.path(), path.join(SHOTS, 'statement.csv'));
  const ledger = await ok('GET', '/v1/wallet/statement?limit=100', DEMO);
  assert.equal(csv.length - 1, ledger.entries.length, csv.join('\n'));
  // Our rows quote no commas (ids, kinds, amounts, these descriptions): a split reads them.
  const header = csv[0].split(',');
  const [id, amount, balance] = ['entry_id', 'amount', 'balance_after'].map((name) => header.indexOf(name));
  assert.ok(id >= 0 && amount >= 0 && balance >= 0, csv[0]);
  const rows = csv.slice(1).map((line) => line.split(','));
  for (const entry of ledger.entries) {
    const row = rows.find((cells) => cells[id] === entry.id);
    assert.ok(row, `no row for ${entry.id}`);
    assert.ok(same(row[amount], entry.amount.amount), `${row}: amount ${entry.amount.amount}`);
    assert.ok(same(row[balance], entry.balance_after.amount), `${row}: balance ${entry.balance_after.amount}`);
  }
});

step('the monthly statement', async () => {
  const month = new Date().toISOString().slice(0, 7);
  await page.fill('#month-pick', month);
  await page.click('#month-form button[type="submit"]');
  const answer = await api('GET', `/v1/wallet/statements/${month}`, DEMO);
  if (!usage.monthly) {
    WAITING.push('monthly statement (GET /v1/wallet/statements/{YYYY-MM}, branch apicontract)');
    await page.waitForSelector('#month-error:not([hidden])');
    assert.equal(await text(page, '#month-error'), answer.json.error.message);
    return;
  }
  await page.waitForSelector('#month-view h2');
  const shown = await text(page, '#month-view');
  assert.ok(/closing/i.test(shown) && shown.includes('5.85'), shown);
  await shot(page, '11-monthly-statement');
});

step('a hold: available, held and balance on the overview, refreshed without a reload', async () => {
  await open(page, 'overview');
  const before = await ok('GET', '/v1/wallet', DEMO);
  assert.equal(await text(page, '#ov-held'), `${before.held.amount} USD`);
  assert.ok(same(before.held.amount, '0'), before.held.amount);
  // A threshold of 5.00, then a hold of 100 × 0.0125 = 1.25: available goes 5.85 → 4.60.
  await ok('PUT', '/v1/wallet/alerts', DEMO, { low_balance_threshold: '5.00' });
  const placed = await api('POST', '/v1/wallet/holds', DEMO,
    { template: 'spring_sale', lines: [{ country: 'US', category: 'marketing', count: 100 }] },
    { 'Idempotency-Key': 'browser-hold-1' });
  assert.equal(placed.status, 201, placed.text);
  usage.hold = placed.json.hold_id;
  const after = await ok('GET', '/v1/wallet', DEMO);
  assert.ok(same(after.held.amount, '1.25') && same(after.available.amount, '4.60'), JSON.stringify(after));
  // The page reads the wallet again on its own (every 10 s while visible): no reload, no click.
  await page.waitForFunction((held) => document.getElementById('ov-held').textContent === held,
    `${after.held.amount} USD`, { timeout: WAIT_MS });
  assert.equal(await text(page, '#ov-balance'), `${after.available.amount} USD`);
  assert.equal(await text(page, '#ov-total'), `${after.balance.amount} USD`);
  assert.equal(await text(page, '#top-balance'), `Available Credits: ${after.available.amount} USD`);
  assert.equal(await text(page, '#ov-sending'), after.can_send ? 'Sending active' : 'Sending paused — buy credits');
  await shot(page, '15-overview-held');
});

step('the notice banner: the hold\'s balance.low from the feed, to Buy Credits, dismissed by keyboard', async () => {
  const id = `balance.low:demo:hold-${usage.hold}`;
  const unread = await until('the hold\'s balance.low in the feed', async () => {
    const feed = await ok('GET', '/v1/wallet/notices?limit=20', DEMO);
    return feed.notices.find((notice) => notice.id === id && notice.unread);
  });
  assert.ok(same(unread.event.data.available.amount, '4.60'), JSON.stringify(unread.event));
  await page.waitForFunction((wanted) => document.getElementById('notice-banner').dataset.notice === wanted,
    id, { timeout: WAIT_MS });
  assert.ok(await page.locator('#notice-banner').isVisible());
  assert.match(await text(page, '#notice-text'), /fell below your low-balance threshold of 5(\.0+)? USD/);
  assert.equal(await page.getAttribute('#notice-action', 'href'), '#buy');
  // At a phone's width the banner wraps and nothing runs off the side.
  const phone = await newPage({ width: 375, height: 740 });
  await phone.goto(DASHBOARD_URL);
  await phone.waitForSelector('body[data-ready="overview"]');
  await phone.waitForSelector('#notice-banner:not([hidden])', { timeout: WAIT_MS });
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth) <= 375);
  await shot(phone, '16-phone-notice-banner');
  await phone.context().close();
  // Its link leads to Buy Credits.
  await page.click('#notice-action');
  await page.waitForSelector('body[data-ready="buy"]');
  // Keyboard: Tab reaches Dismiss; Enter marks the notice read through the API.
  await page.evaluate(() => document.activeElement.blur());
  let reached = false;
  for (let presses = 0; presses < 20 && !reached; presses += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.id === 'notice-dismiss');
  }
  assert.ok(reached, 'Tab reaches the Dismiss button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#notice-banner', { state: 'hidden', timeout: WAIT_MS });
  const feed = await ok('GET', '/v1/wallet/notices?limit=20', DEMO);
  assert.equal(feed.notices.find((notice) => notice.id === id).unread, false);
  // Cleared for good: a reload shows no banner.
  await page.reload();
  await page.waitForSelector('body[data-ready="buy"]');
  assert.ok(await page.locator('#notice-banner').isHidden());
  await ok('DELETE', `/v1/wallet/holds/${usage.hold}`, DEMO);
});

step('keyboard: the pages are reached with Tab and Enter', async () => {
  await page.goto(`${BASE}/#overview`);
  await page.waitForSelector('body[data-ready="overview"]');
  for (let presses = 0; presses < 10; presses += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.dataset.page === 'buy')) break;
  }
  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-ready="buy"]');
  // The credits field is reached by Tab alone (how many presses depends on what the top bar shows),
  // and before the pay button: the form reads in order.
  const reached = [];
  for (let presses = 0; presses < 20; presses += 1) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement.id);
    reached.push(id);
    if (id === 'buy-credits') break;
  }
  assert.equal(reached[reached.length - 1], 'buy-credits', `Tab reached: ${reached.join(', ')}`);
  assert.ok(!reached.includes('buy-pay'), 'the pay button comes after the credits field');
});

step('at a phone\'s width nothing runs off the side', async () => {
  const phone = await newPage({ width: 375, height: 740 });
  await phone.goto(DASHBOARD_URL);
  await phone.waitForSelector('body[data-ready="overview"]');
  for (const name of ['overview', 'buy', 'usage', 'statement', 'payments']) {
    if (name !== 'overview') await open(phone, name);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${name} is ${width}px wide`);
    if (name === 'overview' || name === 'statement') await shot(phone, `12-phone-${name}`);
  }
  await phone.context().close();
});

step('another account\'s token sees none of it', async () => {
  const other = await newPage();
  await other.goto(`${BASE}/#token=${encodeURIComponent(OTHER)}`);
  await other.waitForSelector('body[data-ready="overview"]');
  assert.equal(await text(other, '#ov-balance'), '0.00 USD');
  await open(other, 'statement');
  assert.equal(await text(other, '#st-table tbody'), 'No entries.');
  await open(other, 'payments');
  assert.equal(await text(other, '#pay-table tbody'), 'No purchases yet.');
  await shot(other, '13-other-account');
  const theirs = await ok('GET', '/v1/wallet/statement', OTHER);
  assert.equal(theirs.entries.length, 0);
  await other.context().close();
});

step('an expired token shows the sign-in message; no token and a refused token too', async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'demo', iss: 'imcredits-local', aud: 'imcredits', iat: now - 7200, exp: now - 3600, account_id: 'demo' };
  const expired = await newPage();
  await expired.goto(`${BASE}/#token=${jwt(claims)}`);
  await expired.waitForSelector('#signin:not([hidden])');
  assert.match(await text(expired, '#signin-text'), /^Your sign-in has expired\./);
  assert.ok(await expired.locator('#nav').isHidden());
  await shot(expired, '14-signin-expired');
  await expired.context().close();

  const missing = await newPage();
  await missing.goto(`${BASE}/`);
  await missing.waitForSelector('#signin:not([hidden])');
  assert.match(await text(missing, '#signin-text'), /^You are not signed in\./);
  await missing.context().close();

  const forged = await newPage();
  const bad = `${jwt({ ...claims, exp: now + 3600 }).slice(0, -4)}AAAA`;
  await forged.goto(`${BASE}/#token=${bad}`);
  await forged.waitForSelector('#signin:not([hidden])');
  const refused = await api('GET', '/v1/wallet', bad);
  assert.equal(refused.status, 401);
  assert.ok((await text(forged, '#signin-text')).endsWith(`The API said: ${refused.json.error.message}`));
  await forged.context().close();
});

step('no request left loopback and no Content-Security-Policy violation', async () => {
  assert.deepEqual(state.offLoopback, []);
  assert.deepEqual(state.cspViolations, []);
});

async function main() {
  state.browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
    timeout: 60_000,
  });
  let failed = false;
  for (const { name, run } of steps) {
    const started = Date.now();
    try {
      await run();
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      console.log(`FAIL ${name}\n${error.stack}`);
      if (page) await shot(page, 'failure').catch(() => {});
      failed = true;
      break;
    }
  }
  await state.browser.close();
  console.log(`page load (printed URL to the overview drawn with its data): ${figures.loadReadyMs} ms; ` +
    `DOMContentLoaded ${figures.domContentLoadedMs} ms`);
  for (const waiting of WAITING) console.log(`WAITING for branch apicontract: ${waiting}`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.log(error.stack);
  process.exit(1);
});
