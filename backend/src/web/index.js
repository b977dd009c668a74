// The start page: sign in or register, then start a conversation and open its room.
"use strict";
const $ = (id) => document.getElementById(id);
const api = async (path, options = {}) => {
  const token = sessionStorage.getItem("access_token");
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1${path}`, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body && body.detail ? body.detail : `HTTP ${response.status}`);
  return body;
};
const showError = (e) => { $("error").textContent = e ? e.message || String(e) : ""; };

async function refresh() {
  showError(null);
  if (!sessionStorage.getItem("access_token")) {
    $("signed-out").classList.remove("hidden"); $("signed-in").classList.add("hidden"); return;
  }
  try {
    const me = await api("/users/me");
    $("who").textContent = `${me.full_name} (${me.email})`;
    $("signed-out").classList.add("hidden"); $("signed-in").classList.remove("hidden");
  } catch (e) { sessionStorage.removeItem("access_token"); $("signed-out").classList.remove("hidden"); }
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await api("/auth/login", { method: "POST", body: JSON.stringify({
      email: $("login-email").value, password: $("login-password").value }) });
    sessionStorage.setItem("access_token", body.access_token); await refresh();
  } catch (e) { showError(e); }
});

$("register").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await api("/auth/register", { method: "POST", body: JSON.stringify({
      full_name: $("reg-name").value, birth_date: $("reg-birth").value,
      email: $("reg-email").value, password: $("reg-password").value }) });
    sessionStorage.setItem("access_token", body.access_token); await refresh();
  } catch (e) { showError(e); }
});

$("start").addEventListener("click", async () => {
  $("start").disabled = true;
  try {
    const started = await api("/conversations/start", { method: "POST",
      headers: { "Idempotency-Key": crypto.randomUUID() } });
    // The token travels in the fragment, which browsers never send to a server.
    const local = started.daily_room_url.startsWith(location.origin);
    const fragment = `token=${encodeURIComponent(started.daily_token)}`
      + `&conversation=${encodeURIComponent(started.conversation_id)}`;
    location.href = local ? `${started.daily_room_url}#${fragment}`
                          : `${started.daily_room_url}?t=${encodeURIComponent(started.daily_token)}`;
  } catch (e) { showError(e); $("start").disabled = false; }
});

// Revoke the token on the server too (every token of the account), then forget it here.
$("sign-out").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* signed out anyway */ }
  sessionStorage.removeItem("access_token"); refresh();
});
refresh();
