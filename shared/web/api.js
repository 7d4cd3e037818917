// Calls to the imcredits API on this origin, with the session's bearer token. An error answer
// becomes an ApiError carrying the API's own message, which pages show as it is worded.

import { token } from './session.js';

const TIMEOUT_MS = 30_000;
let onRefused = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** What to do when the API refuses the token (401): the app shows the sign-in message. */
export function whenRefused(handler) {
  onRefused = handler;
}

async function send(method, path, { body, headers = {}, accept = 'application/json' } = {}) {
  const current = token();
  if (!current) throw new ApiError(401, 'unauthorized', 'no sign-in token');
  const init = {
    method,
    headers: { Authorization: `Bearer ${current}`, Accept: accept, ...headers },
    cache: 'no-store',
    credentials: 'omit',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'network', `The API could not be reached (${error.message}); try again.`);
  }
  if (response.ok) return response;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // Not our envelope (a gateway's answer): say what status it was.
  }
  const detail = payload && payload.error;
  const error = new ApiError(
    response.status,
    (detail && detail.code) || `http_${response.status}`,
    (detail && detail.message) || (payload && payload.message) || `The API answered ${response.status}.`,
  );
  if (response.status === 401) onRefused(error);
  throw error;
}

export async function get(path) {
  return (await send('GET', path)).json();
}

export async function post(path, body, headers) {
  return (await send('POST', path, { body, headers })).json();
}

export async function put(path, body) {
  return (await send('PUT', path, { body })).json();
}

/** A text answer (CSV, HTML) as a Blob, with its file name from Content-Disposition if any. */
export async function download(path, accept) {
  const response = await send('GET', path, { accept });
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return { blob: await response.blob(), filename: match ? match[1] : null };
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
