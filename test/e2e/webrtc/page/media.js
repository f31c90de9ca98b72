// Media helpers of the browser phone (page/phone.js uses them as window.pbxMedia): the SDP
// rewrite that keeps ICE on loopback, the received-tone analyser, the getStats() summary and
// the in-page loopback call. No SIP here and no phone state.
//
// Keeping ICE on loopback (TESTING.md): the browser profile's webrtc.ip_handling_policy makes
// Chromium bind its sockets to the wildcard address and gather the machine's own addresses as
// host candidates. The SDP a phone sends therefore keeps only its UDP host candidates, with the
// address rewritten to 127.0.0.1 / ::1 (same port, the wildcard socket answers there), and a
// loopback c= line. The SDP a phone receives loses every candidate that is not a loopback
// address, so Chromium never sends a connectivity check off the host.
//
// Audio (TESTING.md): Chromium feeds remote WebRTC audio into WebAudio only while the track also
// plays in a (muted) media element; an AnalyserNode with FFT 16384 at 48 kHz has 2.93 Hz bins.
'use strict';

(() => {
  const SAMPLE_RATE = 48000;
  const FFT_SIZE = 16384;
  const BIN_HZ = SAMPLE_RATE / FFT_SIZE;
  // Noise suppression eats a steady tone; echo cancellation and AGC would change its level.
  const MIC_CONSTRAINTS = {
    echoCancellation: false,
    noiseSuppression: false,
    autoGainControl: false,
  };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const isLoopback = (address) => /^127\./.test(address) || address === '::1';

  function sdpLines(sdp) {
    const lines = sdp.split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  const joinLines = (lines) => `${lines.join('\r\n')}\r\n`;

  // "a=candidate:foundation component transport priority address port typ type ..." (RFC 8839
  // §5.1): address is field 4, transport field 2, type field 7.
  const candidateFields = (line) => line.slice('a='.length).split(' ');

  /** The SDP this phone sends: UDP host candidates only, on loopback addresses. */
  function rewriteLocalSdp(sdp) {
    const out = [];
    for (const line of sdpLines(sdp)) {
      if (line.startsWith('a=candidate:')) {
        const f = candidateFields(line);
        const usable = f[2].toLowerCase() === 'udp' && f[7] === 'host' && !f[4].endsWith('.local');
        if (!usable) continue;
        f[4] = f[4].includes(':') ? '::1' : '127.0.0.1';
        out.push(`a=${f.join(' ')}`);
      } else if (line.startsWith('c=IN IP4 ') && line !== 'c=IN IP4 0.0.0.0') {
        out.push('c=IN IP4 127.0.0.1');
      } else if (line.startsWith('c=IN IP6 ') && line !== 'c=IN IP6 ::') {
        out.push('c=IN IP6 ::1');
      } else {
        out.push(line);
      }
    }
    return joinLines(out);
  }

  /** The SDP this phone accepts: candidates off loopback are dropped (and reported). */
  function filterRemoteSdp(sdp, dropped = () => {}) {
    const out = [];
    for (const line of sdpLines(sdp)) {
      if (line.startsWith('a=candidate:') && !isLoopback(candidateFields(line)[4])) {
        dropped(line);
        continue;
      }
      out.push(line);
    }
    return joinLines(out);
  }

  const candidates = (sdp) => sdpLines(sdp).filter((line) => line.startsWith('a=candidate:'));

  let audioCtx = null;

  function audioContext() {
    if (!audioCtx) audioCtx = new AudioContext({ sampleRate: SAMPLE_RATE });
    return audioCtx;
  }

  /**
   * Dominant frequency of a track over ms: the power spectra of successive analyser frames are
   * averaged and the peak bin taken (DC and the first bin skipped). freq_hz and level_db are
   * null when the track is silent.
   */
  async function analyse(track, ms) {
    const ctx = audioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = FFT_SIZE;
    analyser.smoothingTimeConstant = 0;
    source.connect(analyser);
    const bins = analyser.frequencyBinCount;
    const power = new Float64Array(bins);
    const spectrum = new Float32Array(bins);
    const wave = new Float32Array(FFT_SIZE);
    let frames = 0;
    let meanSquares = 0;
    const end = performance.now() + ms;
    try {
      do {
        await sleep(50);
        analyser.getFloatFrequencyData(spectrum);
        for (let i = 0; i < bins; i++) power[i] += 10 ** (spectrum[i] / 10);
        analyser.getFloatTimeDomainData(wave);
        let sum = 0;
        for (let i = 0; i < FFT_SIZE; i++) sum += wave[i] * wave[i];
        meanSquares += sum / FFT_SIZE;
        frames++;
      } while (performance.now() < end);
    } finally {
      source.disconnect();
    }
    let peak = 2;
    for (let i = 3; i < bins; i++) if (power[i] > power[peak]) peak = i;
    const peakPower = power[peak] / frames;
    const rms = Math.sqrt(meanSquares / frames);
    const silent = peakPower === 0 || rms < 1e-5;
    return {
      freq_hz: silent ? null : peak * BIN_HZ,
      level_db: silent ? null : 10 * Math.log10(peakPower),
      rms_dbfs: rms > 0 ? 20 * Math.log10(rms) : null,
      bin_hz: BIN_HZ,
      sample_rate: ctx.sampleRate,
      frames,
    };
  }

  /** The parts of a getStats() report the tests assert on. */
  function summarise(report) {
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    const codec = (id) => {
      const c = id && byId.get(id);
      if (!c) return null;
      return { mime_type: c.mimeType, clock_rate: c.clockRate, payload_type: c.payloadType };
    };
    const candidate = (c) =>
      c ? { address: c.address, port: c.port, protocol: c.protocol, type: c.candidateType } : null;
    const out = {
      inbound: null,
      outbound: null,
      transport: null,
      selected_pair: null,
      local_candidates: [],
      remote_candidates: [],
    };
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.inbound = {
          packets: r.packetsReceived,
          bytes: r.bytesReceived,
          packets_lost: r.packetsLost,
          jitter: r.jitter,
          ssrc: r.ssrc,
          codec: codec(r.codecId),
        };
      } else if (r.type === 'outbound-rtp' && r.kind === 'audio') {
        out.outbound = {
          packets: r.packetsSent,
          bytes: r.bytesSent,
          ssrc: r.ssrc,
          codec: codec(r.codecId),
        };
      } else if (r.type === 'transport') {
        out.transport = {
          dtls_state: r.dtlsState,
          dtls_role: r.dtlsRole ?? null,
          dtls_cipher: r.dtlsCipher ?? null,
          srtp_cipher: r.srtpCipher ?? null,
          ice_state: r.iceState ?? null,
          ice_role: r.iceRole ?? null,
        };
        const pair = byId.get(r.selectedCandidatePairId);
        if (pair) {
          out.selected_pair = {
            state: pair.state,
            local: candidate(byId.get(pair.localCandidateId)),
            remote: candidate(byId.get(pair.remoteCandidateId)),
          };
        }
      } else if (r.type === 'local-candidate') {
        out.local_candidates.push(candidate(r));
      } else if (r.type === 'remote-candidate') {
        out.remote_candidates.push(candidate(r));
      }
    });
    return out;
  }

  function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function gatheringComplete(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
    });
  }

  function connected(pc) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve();
        else if (pc.connectionState === 'failed') reject(new Error('loopback connection failed'));
      };
      pc.addEventListener('connectionstatechange', check);
      check();
    });
  }

  /**
   * A call between two RTCPeerConnections of this page, both sending tracks from micStream(),
   * through the same SDP rewrite and filter as real calls (no trickle, like JsSIP and SIP.js).
   * adopt(b) is called before b sees the offer, so the caller can watch its remote track.
   */
  async function loopbackPair(micStream, adopt, dropped, timeoutMs) {
    const config = { iceServers: [], rtcpMuxPolicy: 'require' };
    const a = new RTCPeerConnection(config);
    const b = new RTCPeerConnection(config);
    const gathered = [];
    for (const [name, pc] of [
      ['a', a],
      ['b', b],
    ]) {
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate && e.candidate.candidate) {
          gathered.push({ pc: name, candidate: e.candidate.candidate });
        }
      });
      for (const track of micStream().getTracks()) pc.addTrack(track);
    }
    adopt(b);
    await a.setLocalDescription();
    await gatheringComplete(a);
    const offer = rewriteLocalSdp(a.localDescription.sdp);
    await b.setRemoteDescription({ type: 'offer', sdp: filterRemoteSdp(offer, dropped) });
    await b.setLocalDescription();
    await gatheringComplete(b);
    const answer = rewriteLocalSdp(b.localDescription.sdp);
    await a.setRemoteDescription({ type: 'answer', sdp: filterRemoteSdp(answer, dropped) });
    await withTimeout(Promise.all([connected(a), connected(b)]), timeoutMs, 'loopback connect');
    return {
      pcs: [a, b],
      result: {
        offer_candidates: candidates(offer),
        answer_candidates: candidates(answer),
        gathered,
        offer,
        answer,
      },
    };
  }

  window.pbxMedia = {
    BIN_HZ,
    MIC_CONSTRAINTS,
    analyse,
    filterRemoteSdp,
    loopbackPair,
    rewriteLocalSdp,
    sleep,
    summarise,
    withTimeout,
  };
})();
