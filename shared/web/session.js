// The sign-in token. The host hands it to the page in the URL fragment (`#token=...`), which never
// reaches a server or a log; it is moved into sessionStorage (this tab only) and the fragment is
// cleared at once. Never put it in a query string.

const KEY = 'imcredits.token';

/** Moves a token found in the fragment into sessionStorage; answers the page the fragment names. */
export function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (!token) return null;
  sessionStorage.setItem(KEY, token);
  const page = fragment.get('page') || 'overview';
  history.replaceState(null, '', location.pathname + '#' + page);
  return page;
}

export function token() {
  return sessionStorage.getItem(KEY);
}

/** The token's expiry (its `exp` claim), read without checking the signature: only the API trusts it. */
function expiresAt(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? new Date(exp * 1000) : null;
  } catch {
    return null;
  }
}

export const MISSING =
  'You are not signed in. Open the credits dashboard from your account: the link carries a ' +
  'short-lived sign-in token. (On the local runner, open the dashboard URL it prints when it starts.)';
export const EXPIRED =
  'Your sign-in has expired. Open the credits dashboard again from your account to get a fresh ' +
  'link. (On the local runner, restart it for a new URL.)';

/** Why the page cannot call the API yet, or null when it can. */
export function problem() {
  const current = token();
  if (!current) return MISSING;
  const expiry = expiresAt(current);
  if (expiry && expiry.getTime() <= Date.now()) return EXPIRED;
  return null;
}

/** After the API refused the token (401): its words, after ours. */
export function refusedMessage(apiMessage) {
  const current = token();
  const expiry = current ? expiresAt(current) : null;
  const lead = expiry && expiry.getTime() <= Date.now() ? EXPIRED : 'Your sign-in was refused. ' +
    'Open the credits dashboard again from your account to get a fresh link.';
  return `${lead} The API said: ${apiMessage}`;
}
