// Times as the Archive shows them: in the tenant's time zone (not the
// browser's), dates as dd.mm.yyyy, durations as m:ss.

function parts(instantMs, timeZone) {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const out = {};
  for (const p of fmt.formatToParts(new Date(instantMs))) out[p.type] = p.value;
  return out;
}

/** How far `timeZone` is ahead of UTC at `instantMs`, in ms. */
function offsetAt(instantMs, timeZone) {
  const p = parts(instantMs, timeZone);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * A `datetime-local` value ("2023-11-23T08:46") read as wall-clock time in
 * `timeZone`, as an RFC 3339 UTC string; '' for ''.
 */
export function localToRfc3339(value, timeZone) {
  if (!value) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return '';
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  // Two passes settle the offset across a daylight-saving change.
  let instant = wall - offsetAt(wall, timeZone);
  instant = wall - offsetAt(instant, timeZone);
  return new Date(instant).toISOString();
}

/** An RFC 3339 instant as `dd.mm.yyyy HH:MM:SS` in `timeZone`. */
export function formatInstant(iso, timeZone) {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const p = parts(ms, timeZone);
  return `${p.day}.${p.month}.${p.year} ${p.hour}:${p.minute}:${p.second}`;
}

/** Seconds as `m:ss` (the Archive's duration format). */
export function minutesSeconds(seconds) {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}
