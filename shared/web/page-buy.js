// Buy Credits: a quote as the user types, then "Make Payment" opens the checkout page. Each
// purchase attempt has one Idempotency-Key, kept in sessionStorage so a reload or a double click
// sends the same key and the API answers the same purchase: credits are bought once.

import * as api from './api.js';
import { $, money, say } from './dom.js';

const ATTEMPT = 'imcredits.purchase-attempt';
const QUOTE_DELAY_MS = 250;
const POLL_INTERVAL_MS = 2_000;
const POLL_TRIES_MAX = 60; // two minutes, then the user reloads to look again
const SETTLED = new Set(['paid', 'failed', 'expired']);

let quoteTimer = null;
let quoteSeq = 0;
let polling = false;

function attempt() {
  try {
    return JSON.parse(sessionStorage.getItem(ATTEMPT) || 'null');
  } catch {
    return null;
  }
}

function saveAttempt(value) {
  if (value) sessionStorage.setItem(ATTEMPT, JSON.stringify(value));
  else sessionStorage.removeItem(ATTEMPT);
}

/** The attempt for `credits`: the open one if it is for the same number, else a new key. */
function attemptFor(credits) {
  const open = attempt();
  if (open && open.credits === credits && !open.settled) return open;
  const fresh = { key: crypto.randomUUID(), credits, purchaseId: null, settled: false };
  saveAttempt(fresh);
  return fresh;
}

function credits() {
  const text = $('buy-credits').value.trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

function showQuote(quote) {
  $('q-unit').textContent = quote ? money(quote.unit_price) : '–';
  $('q-subtotal').textContent = quote ? money(quote.subtotal) : '–';
  $('q-rate').textContent = quote ? `${(Number(quote.fee_rate) * 100).toFixed(2).replace(/\.?0+$/, '')}%` : '–';
  $('q-fee').textContent = quote ? money(quote.fee) : '–';
  $('q-total').textContent = quote ? money(quote.total) : '–';
}

async function quote() {
  const seq = ++quoteSeq;
  const number = credits();
  if (number === null) {
    showQuote(null);
    say($('buy-error'), 'credits: enter a whole number of credits');
    return;
  }
  try {
    const answer = await api.post('/v1/wallet/quotes', { credits: number });
    if (seq !== quoteSeq) return;
    say($('buy-error'), null);
    showQuote(answer);
  } catch (error) {
    if (seq !== quoteSeq) return;
    showQuote(null);
    say($('buy-error'), error.message);
  }
}

function status(text) {
  const element = $('buy-status');
  element.textContent = text;
  element.hidden = !text;
}

async function pay(event) {
  event.preventDefault();
  const button = $('buy-pay');
  if (button.disabled) return;
  const number = credits();
  if (number === null) {
    say($('buy-error'), 'credits: enter a whole number of credits');
    return;
  }
  button.disabled = true;
  const current = attemptFor(number);
  try {
    const purchase = await api.post('/v1/wallet/purchases', { credits: number },
      { 'Idempotency-Key': current.key });
    saveAttempt({ ...current, purchaseId: purchase.purchase_id });
    if (purchase.status === 'pending' && purchase.checkout_url) {
      status('Opening the payment page…');
      location.assign(purchase.checkout_url);
      return;
    }
    button.disabled = false;
    watch(init.context);
  } catch (error) {
    say($('buy-error'), error.message);
    button.disabled = false;
  }
}

/** After the checkout page: the purchase's status until it settles, bounded, then the balance. */
async function watch(context) {
  const open = attempt();
  if (!open || !open.purchaseId || open.settled || polling) return;
  polling = true;
  try {
    for (let tries = 0; tries < POLL_TRIES_MAX; tries += 1) {
      const history = await api.get('/v1/wallet/purchases?limit=20');
      const purchase = history.purchases.find((one) => one.purchase_id === open.purchaseId);
      const state = purchase ? purchase.status : 'pending';
      if (SETTLED.has(state)) {
        saveAttempt({ ...open, settled: true });
        if (state === 'paid') {
          const wallet = context ? await context.refreshWallet() : null;
          status(`Purchase paid: ${purchase.quote.credits} credits added` +
            (wallet ? `. New balance: ${money(wallet.balance)}` : '.'));
        } else {
          status(`Purchase ${state}: nothing was credited.`);
        }
        document.body.dataset.purchase = state;
        return;
      }
      status(`Purchase of ${open.credits} credits pending: waiting for the payment to be confirmed…`);
      document.body.dataset.purchase = 'pending';
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    status('The purchase is still pending. Reload this page to look again.');
  } catch (error) {
    say($('buy-error'), error.message);
  } finally {
    polling = false;
  }
}

function init(context) {
  $('buy-form').addEventListener('submit', pay);
  $('buy-credits').addEventListener('input', () => {
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(quote, QUOTE_DELAY_MS);
  });
  init.context = context;
  // Back from the checkout page, the browser may restore this page as it was left: pressed.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    $('buy-pay').disabled = false;
    watch(context);
  });
}

async function load(context) {
  $('buy-pay').disabled = false;
  const open = attempt();
  if (open && !open.settled) $('buy-credits').value = String(open.credits);
  await quote();
  watch(context);
}

export default { init, load };
