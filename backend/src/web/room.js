// The room page: microphone in, the bot's voice out, over WebRTC to this server's signalling
// endpoint; shows the connection state and the live transcript. The room token comes in the
// URL fragment (#token=...), which is never sent to a server. With the conversation's id there
// too (#token=...&conversation=...) and the signed-in user's access token (the start page's
// sessionStorage), it follows the conversation's live status (GET .../events) and rejoins it
// when the connection drops without Leave (POST .../join: a new token, the same bot).
"use strict";
const $ = (id) => document.getElementById(id);
const roomName = location.pathname.split("/").filter(Boolean).pop();
const fragment = new URLSearchParams(location.hash.slice(1));
let token = fragment.get("token") || new URLSearchParams(location.search).get("token");
const conversationId = fragment.get("conversation");
const accessToken = sessionStorage.getItem("access_token");
const offerUrl = `/api/v1/rooms/${encodeURIComponent(roomName)}/offer`;
// Read by the browser test: the connection state, the bot's audio level, the transcript, when
// the last typed question was sent and when its answer came (performance.now() ms).
window.roomState = { state: "starting", botLevel: 0, maxBotLevel: 0, transcript: [], botReady: null,
  conversation: null, rejoins: 0, typedAt: null, answeredAt: null };
let channel = null;
let typedCount = 0;
let leaving = false;
// Below the server's keep-alive (3 s of missing pings, then BOT_IDLE_TIMEOUT_SECONDS).
const DISCONNECTED_GRACE_MS = 7000;

function setState(state) { window.roomState.state = state; $("state").textContent = state; }
function showError(message) { $("error").textContent = message; }

function lineText(role, text, interrupted) {
  return `${role === "bot" ? "Numerologist" : "You"}: ${text}${interrupted ? " \u2026 (interrupted)" : ""}`;
}

function addLine(role, text, id) {
  if (!text || !text.trim()) return;
  window.roomState.transcript.push(id ? { role, text, id } : { role, text });
  const state = window.roomState;
  if (role === "bot" && state.typedAt !== null && state.answeredAt === null) state.answeredAt = performance.now();
  const p = document.createElement("p");
  p.className = role; p.textContent = lineText(role, text, false);
  if (id) p.dataset.id = id;
  $("transcript").appendChild(p);
}

// A bot line the user spoke over: the transcript keeps only what was said of it.
function cutLine(id, text) {
  const state = window.roomState;
  const line = state.transcript.find((l) => l.id === id);
  const p = [...$("transcript").children].find((el) => el.dataset.id === id);
  if (!text) {
    // Cut before its first word: nothing of it was said.
    if (line) state.transcript.splice(state.transcript.indexOf(line), 1);
    if (p) p.remove();
    return;
  }
  if (line) { line.text = text; line.interrupted = true; }
  if (p) { p.textContent = lineText("bot", text, true); p.classList.add("interrupted"); }
}

// The bot speaks RTVI (README "Room protocol"): each stored transcript line comes as a
// server-message; bot-ready answers our client-ready.
function onMessage(raw) {
  let message;
  try { message = JSON.parse(raw); } catch { return; }
  if (message.label !== "rtvi-ai") return;
  const data = message.data || {};
  if (message.type === "bot-ready") window.roomState.botReady = data.version;
  else if (message.type === "server-message" && data.type === "transcript") {
    if (data.interrupted && data.id) cutLine(data.id, data.text);
    else addLine(data.role, data.text, data.id);
  }
}

// A typed question goes as RTVI send-text (what PipecatClient.sendText() sends): answered at
// once, in text, and by voice unless "text only" is ticked. The bot echoes it as a transcript
// line, so it shows in the transcript as a spoken one does.
function sendTyped(event) {
  event.preventDefault();
  const content = $("typed").value.trim();
  if (!content || !channel || channel.readyState !== "open") return;
  typedCount += 1;
  window.roomState.typedAt = performance.now();
  window.roomState.answeredAt = null;
  channel.send(JSON.stringify({ label: "rtvi-ai", type: "send-text", id: `typed-${typedCount}`,
    data: { content, options: { run_immediately: true, audio_response: !$("text-only").checked } } }));
  $("typed").value = "";
  $("typed").focus();
}

function setTyping(enabled) {
  $("typed").disabled = !enabled;
  $("send").disabled = !enabled;
}

$("typing").addEventListener("submit", sendTyped);

function clientReady() {
  return JSON.stringify({ label: "rtvi-ai", type: "client-ready", id: "room-page",
    data: { version: "2.1.0", about: { library: "numerologist-room-page" } } });
}

function meter(stream) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    window.roomState.botLevel = rms;
    window.roomState.maxBotLevel = Math.max(window.roomState.maxBotLevel, rms);
    $("level").style.width = `${Math.min(100, rms * 400)}%`;
    requestAnimationFrame(tick);
  };
  context.resume().then(tick);
}

async function signal(method, body) {
  const response = await fetch(offerUrl, { method, body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` } });
  const answer = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(answer && answer.detail ? answer.detail : `HTTP ${response.status}`);
  return answer;
}

// The STUN/TURN servers (ICE_SERVERS, and TURN credentials made for this room), asked with the
// room token; fields left null are dropped, as RTCPeerConnection reads a null username as "null".
async function iceServers() {
  const response = await fetch(`/api/v1/rooms/${encodeURIComponent(roomName)}/ice-servers`,
    { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body.ice_servers.map((server) =>
    Object.fromEntries(Object.entries(server).filter(([, value]) => value !== null)));
}

function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 2000);
  });
}

async function join() {
  if (!token) { setState("no token"); showError("This link has no room token: start again from the start page."); return; }
  setState("asking for the microphone");
  const microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
  followStatus();
  await connect(microphone);
}

async function connect(microphone) {
  const pc = new RTCPeerConnection({ iceServers: await iceServers() });
  window.roomState.pc = pc;
  microphone.getAudioTracks().forEach((track) => pc.addTrack(track, microphone));
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    $("bot-audio").srcObject = stream;
    meter(stream);
  };
  const dataChannel = pc.createDataChannel("chat");
  let pings;
  dataChannel.onopen = () => {
    channel = dataChannel;
    dataChannel.send(clientReady());
    pings = setInterval(() => dataChannel.send(`ping: ${Date.now()}`), 1000);
    setTyping(true);
  };
  dataChannel.onmessage = (event) => onMessage(event.data);
  dataChannel.onclose = () => {
    clearInterval(pings);
    if (channel === dataChannel) { channel = null; setTyping(false); }
  };
  // "disconnected" may pass (a blackout of a few seconds): the same connection is kept if it is
  // connected again within DISCONNECTED_GRACE_MS; "failed" or "closed" rejoin at once.
  let lost;
  pc.onconnectionstatechange = () => {
    setState(pc.connectionState);
    clearTimeout(lost);
    if (!["failed", "closed", "disconnected"].includes(pc.connectionState)) return;
    const giveUp = () => {
      pc.onconnectionstatechange = null;
      if (!leaving && canRejoin()) rejoin(pc, microphone); else finish();
    };
    if (pc.connectionState === "disconnected") lost = setTimeout(giveUp, DISCONNECTED_GRACE_MS);
    else giveUp();
  };
  setState("connecting");
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const answer = await offerUntilTaken({ sdp: pc.localDescription.sdp, type: "offer" });
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  } catch (error) { pc.onconnectionstatechange = null; pc.close(); throw error; }
  $("leave").disabled = false;
  $("leave").onclick = async () => {
    $("leave").disabled = true;
    leaving = true;
    try {
      await fetch(`/api/v1/rooms/${encodeURIComponent(roomName)}/leave`, { method: "POST",
        headers: { Authorization: `Bearer ${token}` } });
    } finally { pc.close(); microphone.getTracks().forEach((t) => t.stop()); finish(); }
  };
}

// The room takes one connection at a time: after a network change it refuses the new one
// (offer_rejected) until the bot has hung up the silent old one, a few seconds later.
async function offerUntilTaken(offer) {
  const deadline = Date.now() + 20000;
  for (;;) {
    try { return await signal("POST", offer); } catch (error) {
      if (Date.now() > deadline || !/refused this offer/.test(error.message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function canRejoin() {
  const live = ["waiting_for_user", "active"];
  return Boolean(conversationId && accessToken && window.roomState.conversation
    && live.includes(window.roomState.conversation.status));
}

// Tried again every second while the network is away (a fetch that cannot reach the server
// throws): a blackout or a network change ends in the same conversation, not an ended page.
async function rejoin(pc, microphone) {
  setState("reconnecting");
  pc.close();
  for (;;) {
    let response;
    try {
      response = await fetch(`/api/v1/conversations/${encodeURIComponent(conversationId)}/join`,
        { method: "POST", headers: { Authorization: `Bearer ${accessToken}` } });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
      token = body.daily_token;
      window.roomState.rejoins += 1;
      await connect(microphone);
      showError("");
      return;
    } catch (error) {
      showError(error.message || String(error));
      // Refused by the server (the conversation ended, the sign-in expired): stop there.
      if ((response && !response.ok) || leaving || !canRejoin()) { finish(); return; }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

// The conversation's status as Server-Sent Events (fetch, not EventSource: it needs a header).
async function followStatus() {
  if (!conversationId || !accessToken) return;
  const response = await fetch(`/api/v1/conversations/${encodeURIComponent(conversationId)}/events`,
    { headers: { Authorization: `Bearer ${accessToken}` } });
  if (!response.ok) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      onEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function onEvent(block) {
  const lines = block.split("\n");
  const name = (lines.find((l) => l.startsWith("event:")) || "event: message").slice(6).trim();
  const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
  if (name !== "status" || !data) return;
  const status = JSON.parse(data);
  window.roomState.conversation = status;
  $("conversation").textContent = status.end_reason
    ? `${status.status} (${status.end_reason.replace(/_/g, " ")})` : status.status.replace(/_/g, " ");
  if (!["waiting_for_user", "active"].includes(status.status)) finish();
}

function finish() {
  setState("ended");
  setTyping(false);
  $("leave").disabled = true;
  $("home").classList.remove("hidden");
}

join().catch((error) => { setState("failed"); showError(error.message || String(error)); });
