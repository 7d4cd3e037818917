// The dashboard: takes the sign-in token, shows one page at a time (the fragment names it), and
// keeps the top bar's Available Credits and the low-balance banner in step with the wallet.

import * as api from './api.js';
import { $, h, money } from './dom.js';
import * as session from './session.js';
import overview, { showWallet } from './page-overview.js';
import { refreshNotices } from './notices.js';
import buy from './page-buy.js';
import recharge from './page-recharge.js';
import usage from './page-usage.js';
import statement from './page-statement.js';
import payments from './page-payments.js';
import alerts from './page-settings.js';

const PAGES = { overview, buy, 'auto-recharge': recharge, usage, statement, payments, alerts };
const DEFAULT_PAGE = 'overview';
// How often the wallet's figures and the notice banner are read again while the tab is visible:
// holds, charges and notices change them without anything happening on this page.
const REFRESH_MS = 10_000;

let wallet = null;

function signIn(message) {
  $('loading').hidden = true;
  $('nav').hidden = true;
  $('banner').hidden = true;
  $('notice-banner').hidden = true;
  for (const page of document.querySelectorAll('.page')) page.hidden = true;
  $('signin-text').textContent = message;
  $('signin').hidden = false;
  document.body.dataset.state = 'signin';
}

function banner(current) {
  const element = $('banner');
  element.replaceChildren();
  element.className = 'banner';
  // Judged on available (balance less held), as the API judges `can_send` and `status`.
  const depleted = current.status === 'depleted' || !current.can_send;
  const low = current.status === 'low';
  if (!depleted && !low) {
    element.hidden = true;
    return;
  }
  if (depleted) {
    element.classList.add('depleted');
    element.append('Your credits are used up and sending is paused. ');
  } else {
    element.append(`Your available credits are below your low-balance threshold of ${money(current.low_balance_threshold)}. `);
  }
  element.append(h('a', { href: '#buy' }, 'Buy credits'));
  element.hidden = false;
}

/** Reads the wallet again and updates what every page shows of it. */
async function refreshWallet() {
  wallet = await api.get('/v1/wallet');
  $('top-balance').textContent = `Available Credits: ${money(wallet.available || wallet.balance)}`;
  for (const element of document.querySelectorAll('.currency')) element.textContent = wallet.currency;
  banner(wallet);
  showWallet(wallet);
  return wallet;
}

/** The wallet and the notice banner, again; a failed read waits for the next turn. */
async function refresh() {
  if (document.visibilityState !== 'visible' || document.body.dataset.state === 'signin') return;
  try {
    await Promise.all([refreshWallet(), refreshNotices()]);
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error;
  }
  document.body.dataset.refreshed = String(Date.now());
}

async function show(name) {
  const page = PAGES[name] ? name : DEFAULT_PAGE;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== `page-${page}`;
  document.body.dataset.page = page;
  document.title = `${$(`page-${page}`).querySelector('h1').textContent} · imcredits`;
  const context = { wallet: () => wallet, refreshWallet };
  try {
    await PAGES[page].load(context);
  } catch (error) {
    const target = document.querySelector(`#page-${page} .error`);
    if (target && error instanceof api.ApiError && error.status !== 401) {
      target.textContent = error.message;
      target.hidden = false;
    } else if (!(error instanceof api.ApiError)) {
      throw error;
    }
  }
  document.body.dataset.ready = page;
}

async function start() {
  session.takeTokenFromFragment();
  const problem = session.problem();
  if (problem) {
    signIn(problem);
    return;
  }
  api.whenRefused((error) => signIn(session.refusedMessage(error.message)));
  for (const page of Object.values(PAGES)) page.init?.({ wallet: () => wallet, refreshWallet });
  try {
    await refreshWallet();
  } catch (error) {
    if (error.status === 401) return;
    $('loading').textContent = error.message;
    $('loading').setAttribute('role', 'alert');
    document.body.dataset.state = 'error';
    return;
  }
  $('loading').hidden = true;
  $('nav').hidden = false;
  await refreshNotices().catch(() => {});
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
  await show(location.hash.slice(1));
}

start();
