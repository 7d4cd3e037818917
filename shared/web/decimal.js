// Exact decimals for the little arithmetic the page does (sums for charts, days of credit left):
// the API's amounts are decimal strings, and a float would not add them exactly.

/** "12.0375" -> { units: 120375n, scale: 4 }. */
export function parse(text) {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
  if (!match) throw new Error(`not a decimal: ${text}`);
  const fraction = match[3] || '';
  const units = BigInt(match[2] + fraction) * (match[1] ? -1n : 1n);
  return { units, scale: fraction.length };
}

function rescale(value, scale) {
  return value.units * 10n ** BigInt(scale - value.scale);
}

export function add(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) + rescale(b, scale), scale };
}

export function sum(texts) {
  return texts.reduce((total, text) => add(total, parse(text)), { units: 0n, scale: 0 });
}

export function format(value) {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0');
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = value.scale ? `.${digits.slice(digits.length - value.scale)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export function isPositive(value) {
  return value.units > 0n;
}

/** The whole days a balance lasts at `spend` per `days` days: floor(balance × days / spend). */
export function daysLeft(balance, spend, days) {
  if (spend.units <= 0n) return null;
  if (balance.units <= 0n) return 0;
  const scale = Math.max(balance.scale, spend.scale);
  return Number((rescale(balance, scale) * BigInt(days)) / rescale(spend, scale));
}

/** a / b as a float, only for drawing (bar heights), never for money shown as text. */
export function ratio(a, b) {
  const scale = Math.max(a.scale, b.scale);
  const bottom = rescale(b, scale);
  if (bottom === 0n) return 0;
  return Number(rescale(a, scale)) / Number(bottom);
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compare(a, b) {
  const scale = Math.max(a.scale, b.scale);
  const difference = rescale(a, scale) - rescale(b, scale);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
