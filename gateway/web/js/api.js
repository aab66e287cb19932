// The gateway's JSON API (/api/v1): the bearer token kept for this tab, one
// fetch wrapper that turns every failure into an ApiError, and the words a
// user is shown for each kind of failure.

const TOKEN_KEY = 'archive.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A failed API call. status 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, { field, reasonRequired } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.reasonRequired = Boolean(reasonRequired);
  }
}

/** Called on 401 so the app can return to sign-in (set by app.js). */
let onUnauthenticated = () => {};
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

/**
 * Calls the API. `query` values that are empty, false or undefined are left
 * out; `body` is sent as JSON.
 */
export async function api(path, { method = 'GET', query, body, auth = true } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === '' || value === false || value === undefined || value === null) continue;
    url.searchParams.set(key, String(value));
  }
  const headers = { Accept: 'application/json' };
  if (auth) {
    const bearer = token.get();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Unreachable', 'the Archive server could not be reached');
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // A proxy's HTML error page, or an empty body: described by status alone.
  }
  if (response.ok) return payload ?? {};
  const error = payload?.error ?? {};
  const failure = new ApiError(response.status, error.code ?? String(response.status), error.message ?? response.statusText, {
    field: error.field,
    reasonRequired: error.reason_required || response.status === 428,
  });
  if (response.status === 401 && auth) onUnauthenticated(failure);
  return Promise.reject(failure);
}

/** Form fields as the API names them, for "check the …" messages. */
const FIELD_LABELS = {
  'filter.start_time_from': 'From',
  'filter.start_time_to': 'To',
  start_time_from: 'From',
  start_time_to: 'To',
  'filter.access_point_number': 'Access point',
  'filter.caller_number': "Caller's number",
  'filter.agent': 'Agent',
  'filter.queue': 'Queue',
  event_time_from: 'From',
  event_time_to: 'To',
  actor_id: 'Who',
  recording_id: 'Recording',
  reason: 'Reason',
  reason_code: 'Reason',
  case_id: 'Case or ticket id',
  request_id: 'Request id',
  kind: 'What',
  page_size: 'Rows per page',
  page_token: 'Page',
};

/**
 * What went wrong, in words a user understands. `doing` completes
 * "You are not allowed to …" and "Could not …" (e.g. "play this recording").
 */
export function describe(error, doing = 'do that') {
  if (!(error instanceof ApiError)) {
    return `Something went wrong in the page (${error?.message ?? error}). Reload the page and try again.`;
  }
  switch (error.status) {
    case 0:
      return 'The Archive server cannot be reached. Check your network connection and try again.';
    case 400: {
      const label = FIELD_LABELS[error.field] ?? error.field;
      const why = stripField(error.message, error.field);
      return label ? `Please check ${label}: ${why}.` : `Could not ${doing}: ${why}.`;
    }
    case 401:
      return 'Your sign-in has expired. Please sign in again.';
    case 403:
      return `You do not have permission to ${doing}. Ask an administrator if you need it.`;
    case 404:
      return `Could not ${doing}: it was not found (it may have been deleted).`;
    case 409:
      return `Could not ${doing}: ${stripField(error.message)}.`;
    case 428:
      return `A reason is required to ${doing}. Your reason is stored in the Archive Audit log.`;
    case 429:
      return 'Too many requests right now. Wait a moment and try again.';
    case 502:
    case 503:
    case 504:
      return 'The Archive service is unavailable right now. Please try again in a moment.';
    default:
      return `Could not ${doing}: the server failed to answer (${error.status}). Please try again.`;
  }
}

/**
 * "filter.start_time_to: must be after start_time_from" → "must be after
 * From": the field's prefix goes, other API names become the form's labels.
 */
function stripField(message, field) {
  let text = String(message ?? '').trim();
  const prefix = field ? `${field}: ` : null;
  if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
  for (const [name, label] of Object.entries(FIELD_LABELS)) {
    if (!/[._]/.test(name)) continue;
    text = text.replace(new RegExp(`\\b${name.replace('.', '\\.')}\\b`, 'g'), label);
  }
  return text || 'the request was refused';
}
