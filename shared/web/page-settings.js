// The low-balance alert threshold.

import * as api from './api.js';
import { $, money, say } from './dom.js';

async function save(event, context) {
  event.preventDefault();
  say($('al-message'), null);
  say($('al-error'), null);
  try {
    const wallet = await api.put('/v1/wallet/alerts', {
      low_balance_threshold: $('al-threshold').value.trim(),
    });
    say($('al-message'), `Low-balance threshold saved: alerts below ${money(wallet.low_balance_threshold)}.`);
    await context.refreshWallet();
  } catch (error) {
    say($('al-error'), error.message);
  }
}

function init(context) {
  $('alerts-form').addEventListener('submit', (event) => save(event, context));
}

async function load({ refreshWallet }) {
  const wallet = await refreshWallet();
  $('al-threshold').value = wallet.low_balance_threshold.amount;
}

export default { init, load };
