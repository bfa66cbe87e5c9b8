/**
 * Dates and times as the NHS content style guide writes them, in UK time: "2 December 2026",
 * "3:21pm" (no leading zero, no space, lower-case am/pm; "midday" and "midnight" for 12:00).
 */
const DAY = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', day: 'numeric', month: 'long', year: 'numeric' });
const TIME = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: 'numeric', minute: '2-digit', hourCycle: 'h23' });

export function nhsDate(value: Date): string {
  return DAY.format(value);
}

export function nhsTime(value: Date): string {
  const [hours, minutes] = TIME.format(value).split(':').map(Number) as [number, number];
  if (minutes === 0 && hours === 12) return 'midday';
  if (minutes === 0 && hours === 0) return 'midnight';
  const suffix = hours < 12 ? 'am' : 'pm';
  const twelve = hours % 12 === 0 ? 12 : hours % 12;
  return `${twelve}:${String(minutes).padStart(2, '0')}${suffix}`;
}

/** "2 December 2026 at 3:21pm". */
export function nhsDateTime(value: Date): string {
  return `${nhsDate(value)} at ${nhsTime(value)}`;
}
