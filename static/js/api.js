// Same-origin JSON calls with the session cookie and Django's CSRF token.
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector('input[name="csrfmiddlewaretoken"]')?.value ?? "";
}

export async function postJson(url, body, { signal } = {}) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: JSON.stringify(body),
    signal,
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

export function errorMessage(data, fallback = "Something went wrong. Please try again.") {
  const error = data?.error;
  if (!error) return fallback;
  const details = error.details ?? {};
  for (const value of Object.values(details)) {
    if (Array.isArray(value) && value.length) return String(value[0]);
  }
  return error.message ?? fallback;
}
