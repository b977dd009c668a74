// The room page: microphone in, the bot's voice out, over WebRTC to this server's signalling
// endpoint; shows the connection state and the live transcript. The room token comes in the
// URL fragment (#token=...), which is never sent to a server.
"use strict";
const $ = (id) => document.getElementById(id);
const roomName = location.pathname.split("/").filter(Boolean).pop();
const token = new URLSearchParams(location.hash.slice(1)).get("token")
  || new URLSearchParams(location.search).get("token");
const offerUrl = `/api/v1/rooms/${encodeURIComponent(roomName)}/offer`;
// Read by the browser test: the connection state, the bot's audio level, the transcript.
window.roomState = { state: "starting", botLevel: 0, maxBotLevel: 0, transcript: [], botReady: null };

function setState(state) { window.roomState.state = state; $("state").textContent = state; }
function showError(message) { $("error").textContent = message; }

function addLine(role, text) {
  if (!text || !text.trim()) return;
  window.roomState.transcript.push({ role, text });
  const p = document.createElement("p");
  p.className = role; p.textContent = `${role === "bot" ? "Numerologist" : "You"}: ${text}`;
  $("transcript").appendChild(p);
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
    addLine(data.role, data.text);
  }
}

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
  const pc = new RTCPeerConnection({ iceServers: await iceServers() });
  window.roomState.pc = pc;
  microphone.getAudioTracks().forEach((track) => pc.addTrack(track, microphone));
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    $("bot-audio").srcObject = stream;
    meter(stream);
  };
  const channel = pc.createDataChannel("chat");
  let pings;
  channel.onopen = () => {
    channel.send(clientReady());
    pings = setInterval(() => channel.send(`ping: ${Date.now()}`), 1000);
  };
  channel.onmessage = (event) => onMessage(event.data);
  channel.onclose = () => clearInterval(pings);
  pc.onconnectionstatechange = () => {
    setState(pc.connectionState);
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) finish();
  };
  setState("connecting");
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const answer = await signal("POST", { sdp: pc.localDescription.sdp, type: "offer" });
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  $("leave").disabled = false;
  $("leave").onclick = async () => {
    $("leave").disabled = true;
    try {
      await fetch(`/api/v1/rooms/${encodeURIComponent(roomName)}/leave`, { method: "POST",
        headers: { Authorization: `Bearer ${token}` } });
    } finally { pc.close(); microphone.getTracks().forEach((t) => t.stop()); finish(); }
  };
}

function finish() {
  setState("ended");
  $("leave").disabled = true;
  $("home").classList.remove("hidden");
}

join().catch((error) => { setState("failed"); showError(error.message || String(error)); });
