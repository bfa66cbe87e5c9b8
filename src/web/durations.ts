/** A wait or a lifetime in words, rounded up to whole minutes: "1 minute", "15 minutes", "1 hour", "1 hour and 30 minutes". */
export function minutesText(seconds: number): string {
  const total = Math.max(1, Math.ceil(seconds / 60));
  const unit = (n: number, name: string): string => `${n} ${name}${n === 1 ? '' : 's'}`;
  // The service manual writes "1 hour", not "60 minutes".
  if (total < 60) return unit(total, 'minute');
  const hours = Math.floor(total / 60);
  const minutes = total % 60;
  return minutes === 0 ? unit(hours, 'hour') : `${unit(hours, 'hour')} and ${unit(minutes, 'minute')}`;
}
