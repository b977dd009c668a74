// A client team's page, made only of pipecat's client SDK (@pipecat-ai/client-js and
// @pipecat-ai/small-webrtc-transport from npm): it joins a local room with nothing but the start
// answer's `daily_room_url` and `daily_token`, as README "Room protocol" says. `make sdk-page`
// bundles it at test time; tests/voice/test_sdk_client.py drives it and reads `window.sdk`.
import { PipecatClient } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport, WavMediaManager } from "@pipecat-ai/small-webrtc-transport";

const sdk = {
  transportState: "", botReady: null, events: [], lines: [], botOutput: [],
  userTranscripts: [], errors: [], maxBotLevel: 0,
};
window.sdk = sdk;

// The bot's voice: played, and measured the way the room page does.
function hear(track) {
  const stream = new MediaStream([track]);
  document.getElementById("bot-audio").srcObject = stream;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    sdk.maxBotLevel = Math.max(sdk.maxBotLevel, Math.sqrt(sum / samples.length));
    requestAnimationFrame(tick);
  };
  context.resume().then(tick);
}

window.joinRoom = async (roomUrl, token) => {
  const client = new PipecatClient({
    // The transport's default media manager (DailyMediaManager) loads Daily's call-machine
    // bundle from c.daily.co; WavMediaManager, from the same package, needs no internet.
    transport: new SmallWebRTCTransport({ mediaManager: new WavMediaManager() }),
    enableMic: true,
    enableCam: false,
    callbacks: {
      onTransportStateChanged: (state) => { sdk.transportState = state; },
      onBotReady: (data) => { sdk.botReady = data; },
      onBotStartedSpeaking: () => sdk.events.push("bot-started-speaking"),
      onBotStoppedSpeaking: () => sdk.events.push("bot-stopped-speaking"),
      onBotOutput: (data) => sdk.botOutput.push(data.text),
      onUserTranscript: (data) => { if (data.final) sdk.userTranscripts.push(data.text); },
      onServerMessage: (data) => {
        if (data && data.type === "transcript") sdk.lines.push({ role: data.role, text: data.text });
      },
      onTrackStarted: (track, participant) => {
        if (track.kind === "audio" && !(participant && participant.local)) hear(track);
      },
      onError: (message) => sdk.errors.push(JSON.stringify(message.data ?? message)),
      onDisconnected: () => sdk.events.push("disconnected"),
    },
  });
  window.client = client;
  // The room URL is the SmallWebRTC endpoint (offer: POST, ICE candidates: PATCH); the SDK
  // copies these headers onto both, so the room token goes with every signalling request.
  await client.connect({
    webrtcRequestParams: {
      endpoint: roomUrl,
      headers: new Headers({ Authorization: `Bearer ${token}` }),
    },
  });
};

window.leaveRoom = () => window.client.disconnect();
