/**
 * The string formats answers may declare; the twin of services/forms/engine/formats.py (same
 * expressions, ASCII only), registered in Ajv instead of ajv-formats so both sides agree by construction.
 */

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const TIME = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([zZ]|([+-])([0-9]{2}):([0-9]{2}))$/;
const DATE_TIME = /^([0-9]{4}-[0-9]{2}-[0-9]{2})[tT](.+)$/;
const EMAIL_LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*";
const EMAIL = new RegExp("^" + EMAIL_LOCAL + "@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$");
const URI_CHAR = "([A-Za-z0-9\\-._~!$&'()*+,;=:@/?#\\[\\]]|%[0-9A-Fa-f]{2})";
const URI = new RegExp("^[A-Za-z][A-Za-z0-9+.\\-]*:" + URI_CHAR + "*$");
const URI_REFERENCE = new RegExp("^" + URI_CHAR + "*$");
const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp("^" + OCTET + "(\\." + OCTET + "){3}$");
const DURATION = /^P(?=[0-9T])([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$/;

function leap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function isDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const days = [31, leap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return month >= 1 && month <= 12 && day >= 1 && day <= (days[month - 1] ?? 0);
}

/** RFC 3339 full-time; a leap second (:60) only where it is 23:59 in UTC. */
export function isTime(text: string): boolean {
  const match = TIME.exec(text);
  if (!match) return false;
  const [hour, minute, second] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const offsetHour = match[7] ? Number(match[7]) : 0;
  const offsetMinute = match[8] ? Number(match[8]) : 0;
  if (hour > 23 || minute > 59 || second > 60 || offsetHour > 23 || offsetMinute > 59) return false;
  if (second === 60) {
    const sign = match[6] === "-" ? -1 : 1;
    const utc = (((hour * 60 + minute - sign * (offsetHour * 60 + offsetMinute)) % 1440) + 1440) % 1440;
    return utc === 23 * 60 + 59;
  }
  return true;
}

export function isDateTime(text: string): boolean {
  const match = DATE_TIME.exec(text);
  return match !== null && isDate(match[1] ?? "") && isTime(match[2] ?? "");
}

export function isEmail(text: string): boolean {
  if (text.length > 254 || !EMAIL.test(text)) return false;
  return (text.split("@", 1)[0] ?? "").length <= 64;
}

export function isHostname(text: string): boolean {
  return text.length > 0 && text.length <= 253 && text.split(".").every((label) => LABEL.test(label));
}

const matches = (pattern: RegExp) => (text: string) => pattern.test(text);

export const FORMATS: Readonly<Record<string, (text: string) => boolean>> = {
  date: isDate,
  time: isTime,
  "date-time": isDateTime,
  duration: matches(DURATION),
  email: isEmail,
  hostname: isHostname,
  ipv4: matches(IPV4),
  uri: matches(URI),
  "uri-reference": matches(URI_REFERENCE),
  uuid: matches(UUID),
};
