// Helpers of the dashboard's browser tests: the API as a client outside the browser sees it,
// Meta's signed webhooks, tokens signed with the runner's local secret, and pages whose every
// request must stay on the runner's loopback address.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const BASE = process.env.BASE_URL;
const DATA_DIR = process.env.DATA_DIR;
const SHOTS = process.env.SCREENSHOT_DIR;
const DEMO = decodeURIComponent(process.env.DASHBOARD_URL.split('#token=')[1]);
const WAIT_MS = 20_000;
const PHONE_NUMBER_ID = '106540352242922';
const state = { browser: null, offLoopback: [], cspViolations: [] };

// --- the API, as a client outside the browser sees it -------------------------------------------

async function api(method, route, token, body, headers = {}) {
  const response = await fetch(BASE + route, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* CSV or HTML */ }
  return { status: response.status, json, text, headers: response.headers };
}

async function ok(method, route, token, body) {
  const answer = await api(method, route, token, body);
  assert.ok(answer.status < 300, `${method} ${route}: ${answer.status} ${answer.text}`);
  return answer.json;
}

/** Whether the other branch's route exists yet (the router answers "no such route" otherwise). */
async function served(route) {
  const answer = await api('GET', route, DEMO);
  return !(answer.status === 404 && answer.json && answer.json.error.message === 'no such route');
}

function sign(secretBytes, text) {
  return crypto.createHmac('sha256', secretBytes).update(text).digest();
}

function jwt(claims) {
  const secret = Buffer.from(fs.readFileSync(path.join(DATA_DIR, 'jwt-secret'), 'utf8').trim(), 'hex');
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${sign(secret, unsigned).toString('base64url')}`;
}

/** One delivered, charged (PMP regular) status, as Meta sends it. */
function status(index, category, recipient, tag) {
  const body = {
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
      statuses: [{
        id: `wamid.dashboard-test-${index}`,
        status: 'delivered',
        timestamp: String(Math.floor(Date.now() / 1000)),
        recipient_id: recipient,
        ...(tag ? { biz_opaque_callback_data: tag } : {}),
        pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category },
      }],
    } }] }],
  };
  return JSON.stringify(body);
}

async function sendWebhook(text) {
  const secret = fs.readFileSync(path.join(DATA_DIR, 'meta-app-secret'), 'utf8').trim();
  const signature = `sha256=${sign(Buffer.from(secret), text).toString('hex')}`;
  const response = await fetch(`${BASE}/webhooks/meta`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
    body: text,
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(response.status, 200, await response.text());
}

async function until(what, check) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < deadline, `waited ${WAIT_MS} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const same = (a, b) => Number(a) === Number(b) && /^-?\d+(\.\d+)?$/.test(String(a));

// --- the browser --------------------------------------------------------------------------------


async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await state.browser.newContext({ viewport, acceptDownloads: true });
  // Nothing leaves loopback: anything else is refused and remembered.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(BASE) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
    state.offLoopback.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) state.cspViolations.push(message.text());
  });
  page.on('pageerror', (error) => state.cspViolations.push(`page error: ${error.message}`));
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function open(page, name) {
  await page.click(`nav a[data-page="${name}"]`);
  await page.waitForSelector(`body[data-ready="${name}"]`, { timeout: WAIT_MS });
}

const text = (page, selector) => page.locator(selector).innerText();



module.exports = {
  BASE, DEMO, PHONE_NUMBER_ID, WAIT_MS, state, api, ok, served, jwt, status, sendWebhook, until, same,
  newPage, shot, open, text,
};
