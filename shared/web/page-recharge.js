// Auto-Recharge: enabled, minimum balance, credits to add. The API's answers are shown as worded;
// its 409 (no saved card) gets a word on how a card is saved.

import * as api from './api.js';
import { $, h, say } from './dom.js';

function fill(settings) {
  $('ar-enabled').checked = settings.enabled;
  $('ar-minimum').value = settings.minimum_balance.amount;
  $('ar-credits').value = String(settings.credits);
}

async function save(event, context) {
  event.preventDefault();
  say($('ar-message'), null);
  say($('ar-error'), null);
  const button = $('ar-save');
  button.disabled = true;
  try {
    const answer = await api.put('/v1/wallet/auto-recharge', {
      enabled: $('ar-enabled').checked,
      minimum_balance: $('ar-minimum').value.trim(),
      credits: Number($('ar-credits').value),
    });
    say($('ar-message'), answer.message);
    fill(answer.auto_recharge);
    await context.refreshWallet();
  } catch (error) {
    const element = $('ar-error');
    say(element, error.message);
    if (error.status === 409) {
      element.append(h('p', {},
        'Your first purchase by card saves the card auto-recharge uses. ',
        h('a', { href: '#buy' }, 'Buy credits once'), ', then turn auto-recharge on.'));
    }
  } finally {
    button.disabled = false;
  }
}

function init(context) {
  $('recharge-form').addEventListener('submit', (event) => save(event, context));
}

async function load({ refreshWallet }) {
  const wallet = await refreshWallet();
  fill(wallet.auto_recharge);
}

export default { init, load };
