// Overview: Available Credits (with the balance and what is held), whether sending is on, spend this month and over 30 days, and how
// many days the credits last at the last 7 days' pace (from the usage API).

import * as api from './api.js';
import { $, addDays, isoDay, money, say } from './dom.js';
import { daysLeft, parse } from './decimal.js';
import { readUsage } from './usage-data.js';

const PACE_DAYS = 7;

function usageTotal(from, to) {
  return api.get(`/v1/wallet/usage${api.query({ from, to, granularity: 'day', group_by: 'category' })}`)
    .then((answer) => readUsage(answer).totals);
}

function rechargeText(settings) {
  if (!settings.enabled) return 'Off';
  return `On: adds ${settings.credits} credits when the balance is below ${money(settings.minimum_balance)}`;
}

/** The wallet's figures: available (what a send may use; `can_send` is judged on it), the balance
 * and what holds keep for sends in progress. Called on every refresh of the wallet. */
export function showWallet(wallet) {
  $('ov-balance').textContent = money(wallet.available || wallet.balance);
  $('ov-total').textContent = money(wallet.balance);
  $('ov-held').textContent = money(wallet.held);
  const sending = $('ov-sending');
  sending.textContent = wallet.can_send ? 'Sending active' : 'Sending paused — buy credits';
  sending.className = `pill ${wallet.can_send ? 'ok' : 'bad'}`;
}

async function load({ refreshWallet }) {
  const wallet = await refreshWallet();
  say($('overview-error'), null);
  showWallet(wallet);
  $('ov-recharge').textContent = rechargeText(wallet.auto_recharge);
  $('ov-threshold').textContent = `Alert below ${money(wallet.low_balance_threshold)}`;
  const today = isoDay(new Date(), wallet.reporting_time_zone || 'UTC');
  const [month, last30, pace] = await Promise.all([
    usageTotal(`${today.slice(0, 8)}01`, today),
    usageTotal(addDays(today, -29), today),
    // The last 7 days, today included.
    usageTotal(addDays(today, -(PACE_DAYS - 1)), today),
  ]);
  $('ov-month').textContent = `${month.amount} ${wallet.currency}`;
  $('ov-30').textContent = `${last30.amount} ${wallet.currency}`;
  const days = daysLeft(parse((wallet.available || wallet.balance).amount), parse(pace.amount), PACE_DAYS);
  if (days === null) {
    $('ov-days').textContent = '–';
    $('ov-days-note').textContent = 'No charges in the last 7 days to judge the pace by.';
  } else {
    $('ov-days').textContent = days === 1 ? '1 day' : `${days} days`;
    $('ov-days-note').textContent =
      `At the last 7 days' pace of ${pace.amount} ${wallet.currency} a week.`;
  }
}

export default { load };
