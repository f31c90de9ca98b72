// The browser phone that harness.mjs drives: one page = one phone = one JsSIP or SIP.js UA.
//
// harness.mjs calls `window.phone.<command>(args)` through Playwright's page.evaluate(); every
// command returns (a Promise of) a plain JSON object. What lives here:
// - a WebSocket tap recording every frame both libraries send and receive (`frames`) and the
//   subprotocol asked for and granted, so tests can assert on the SIP text itself;
// - the hooks that put page/media.js's SDP rewrite into both libraries. JsSIP: its `sdp` event,
//   which runs after ICE gathering and lets the handler replace the text. SIP.js: a
//   SessionDescriptionHandler subclass, because SIP.js applies sessionDescriptionHandlerModifiers
//   to the local SDP *before* gathering (no candidates yet); the subclass rewrites in
//   getLocalSessionDescription() and adds the remote filter as a modifier in setDescription();
// - the fake microphone: getUserMedia once per phone at init (echo cancellation, noise
//   suppression, AGC off), checked against the expected tone; calls get clones of that track,
//   since SIP.js stops the tracks it was given when a session ends;
// - one event vocabulary for both libraries (JsSIP's names): connecting, connected,
//   disconnected, registered, unregistered, registrationFailed, newRTCSession, progress,
//   accepted, confirmed, failed, ended, hold, unhold, ice_restart, reinvite, sdp, ice_state,
//   remote_candidate_dropped, and ws_connecting / ws_open / ws_error / ws_close from the tap.
'use strict';

(() => {
  const M = window.pbxMedia;
  const MAX_FRAMES = 5000;
  const T0 = performance.now();

  const st = {
    opts: null,
    events: [],
    frames: [],
    waiters: new Set(),
    mic: null,
    ua: null,
    started: false, // JsSIP: ua.start() was called (it then reconnects by itself)
    registerer: null, // SIP.js
    session: null, // the current call: {lib, raw, info, originator, established, localEnd, ...}
    incoming: [], // incoming calls not yet answered or rejected
    pc: null, // the RTCPeerConnection whose remote audio `audio` and `stats` read
    loopback: null,
  };

  const now = () => Math.round(performance.now() - T0);

  function notify() {
    for (const waiter of [...st.waiters]) waiter();
  }

  function record(type, fields = {}) {
    st.events.push({ type, t: now(), ...fields });
    notify();
  }

  // The first event at index >= from whose type is one of types and that satisfies pred.
  function waitEvent(from, types, timeoutMs, pred = () => true) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < st.events.length; i++) {
          const e = st.events[i];
          if (types.includes(e.type) && pred(e)) {
            done();
            resolve(e);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timeout after ${timeoutMs} ms waiting for ${types.join('/')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        st.waiters.delete(check);
      };
      st.waiters.add(check);
      check();
    });
  }

  const dropped = (candidate) => record('remote_candidate_dropped', { candidate });
  const rewriteLocal = (sdp) => M.rewriteLocalSdp(sdp);
  const filterRemote = (sdp) => M.filterRemoteSdp(sdp, dropped);

  // --- WebSocket tap -------------------------------------------------------------------------
  function frame(dir, data) {
    const text = typeof data === 'string' ? data : `[binary ${data.byteLength ?? data.size} bytes]`;
    st.frames.push({ dir, t: now(), data: text });
    if (st.frames.length > MAX_FRAMES) st.frames.shift();
  }

  class TapWebSocket extends window.WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      record('ws_connecting', { url: String(url), protocols: protocols ?? null });
      this.addEventListener('open', () =>
        record('ws_open', { url: this.url, protocol: this.protocol }),
      );
      this.addEventListener('error', () => record('ws_error', { url: this.url }));
      this.addEventListener('close', (e) =>
        record('ws_close', { url: this.url, code: e.code, reason: e.reason, clean: e.wasClean }),
      );
      this.addEventListener('message', (e) => frame('recv', e.data));
    }

    send(data) {
      frame('sent', data);
      super.send(data);
    }
  }
  window.WebSocket = TapWebSocket;

  // --- media ---------------------------------------------------------------------------------
  function remoteAudioTrack() {
    if (!st.pc) return null;
    const receiver = st.pc.getReceivers().find((r) => r.track && r.track.kind === 'audio');
    return receiver ? receiver.track : null;
  }

  // Plays track in the muted <audio> element; true if it was not playing there already.
  function playRemote(track) {
    const el = document.getElementById('remote');
    const current = el.srcObject && el.srcObject.getAudioTracks()[0];
    if (current === track) return false;
    el.muted = true;
    el.srcObject = new MediaStream([track]);
    el.play().catch((e) => record('audio_play_error', { error: String(e) }));
    return true;
  }

  function adoptPc(pc) {
    if (!pc || pc === st.pc) return;
    st.pc = pc;
    pc.addEventListener('track', (e) => {
      if (e.track.kind === 'audio' && st.pc === pc) playRemote(e.track);
    });
    pc.addEventListener('iceconnectionstatechange', () =>
      record('ice_state', { state: pc.iceConnectionState }),
    );
  }

  const micClone = () => new MediaStream(st.mic.getAudioTracks().map((t) => t.clone()));

  // --- JsSIP ---------------------------------------------------------------------------------
  function jssipCreate(o) {
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(o.ws_url)],
      uri: o.uri,
      password: o.password,
      authorization_user: o.auth_user || undefined,
      display_name: o.display_name || undefined,
      register: false,
      register_expires: o.expires,
      session_timers: false,
    });
    const code = (e) => (e.response ? e.response.status_code : null);
    ua.on('connecting', () => record('connecting'));
    ua.on('connected', () => record('connected'));
    ua.on('disconnected', (e) => record('disconnected', { error: Boolean(e.error) }));
    ua.on('registered', (e) => record('registered', { status_code: code(e) }));
    ua.on('unregistered', (e) =>
      record('unregistered', { status_code: code(e), cause: e.cause ?? null }),
    );
    ua.on('registrationFailed', (e) =>
      record('registrationFailed', { status_code: code(e), cause: e.cause ?? null }),
    );
    ua.on('newRTCSession', (e) => jssipSession(e.session, e.originator, e.request));
    return ua;
  }

  function jssipSession(raw, originator, request) {
    const s = { lib: 'jssip', raw, originator, established: false, localEnd: false };
    s.info = {
      call_id: request.call_id,
      from: request.from.uri.toString(),
      from_display_name: request.from.display_name || null,
      to: request.to.uri.toString(),
    };
    record('newRTCSession', { originator, ...s.info });
    // An outgoing session made its RTCPeerConnection before newRTCSession; an incoming one
    // makes it when answered.
    if (raw.connection) adoptPc(raw.connection);
    raw.on('peerconnection', (e) => adoptPc(e.peerconnection));
    raw.on('sdp', (e) => {
      e.sdp = e.originator === 'local' ? rewriteLocal(e.sdp) : filterRemote(e.sdp);
      record('sdp', { originator: e.originator, sdp_type: e.type, sdp: e.sdp });
    });
    const code = (e) => (e.response ? e.response.status_code : null);
    raw.on('progress', (e) =>
      record('progress', { originator: e.originator, status_code: code(e) }),
    );
    raw.on('accepted', (e) =>
      record('accepted', { originator: e.originator, status_code: code(e) }),
    );
    raw.on('confirmed', (e) => {
      s.established = true;
      record('confirmed', { originator: e.originator });
    });
    raw.on('ended', (e) => {
      forget(s);
      record('ended', { originator: e.originator, cause: e.cause });
    });
    raw.on('failed', (e) => {
      forget(s);
      const status = e.message && e.message.status_code ? e.message.status_code : null;
      record('failed', { originator: e.originator, cause: e.cause, status_code: status });
    });
    raw.on('hold', (e) => record('hold', { originator: e.originator }));
    raw.on('unhold', (e) => record('unhold', { originator: e.originator }));
    raw.on('reinvite', () => record('reinvite', { originator: 'remote' }));
    track(s);
  }

  // --- SIP.js --------------------------------------------------------------------------------
  let LoopbackSdh = null;

  function sipjsSdhClass() {
    if (LoopbackSdh) return LoopbackSdh;
    const remoteModifier = (d) => Promise.resolve({ type: d.type, sdp: filterRemote(d.sdp) });
    const recorder = (d) => {
      record('sdp', { originator: 'remote', sdp_type: d.type, sdp: d.sdp });
      return Promise.resolve(d);
    };
    LoopbackSdh = class extends SIP.Web.SessionDescriptionHandler {
      constructor(logger, mediaStreamFactory, configuration) {
        super(logger, mediaStreamFactory, configuration);
        adoptPc(this.peerConnection);
      }

      getLocalSessionDescription() {
        return super.getLocalSessionDescription().then((d) => {
          const sdp = rewriteLocal(d.sdp);
          record('sdp', { originator: 'local', sdp_type: d.type, sdp });
          return { type: d.type, sdp };
        });
      }

      setDescription(sdp, options, modifiers) {
        const all = [remoteModifier, ...(modifiers || []), recorder];
        return super.setDescription(sdp, options, all);
      }
    };
    return LoopbackSdh;
  }

  function sipjsSdhFactory(session, options) {
    const Sdh = sipjsSdhClass();
    const logger = session.userAgent.getLogger('sip.SessionDescriptionHandler');
    const gathering = options && options.iceGatheringTimeout;
    return new Sdh(logger, () => Promise.resolve(micClone()), {
      iceGatheringTimeout: gathering !== undefined ? gathering : 5000,
      peerConnectionConfiguration: {
        iceServers: [], // SIP.js defaults to a public STUN server
        rtcpMuxPolicy: 'require',
        bundlePolicy: 'balanced',
      },
    });
  }

  function sipjsCreate(o) {
    const uri = SIP.UserAgent.makeURI(o.uri);
    if (!uri) throw new Error(`bad uri ${o.uri}`);
    const ua = new SIP.UserAgent({
      uri,
      transportOptions: { server: o.ws_url },
      authorizationUsername: o.auth_user || uri.user,
      authorizationPassword: o.password,
      displayName: o.display_name || undefined,
      sessionDescriptionHandlerFactory: sipjsSdhFactory,
      logBuiltinEnabled: false,
      delegate: {
        onConnect: () => record('connected'),
        onDisconnect: (error) => record('disconnected', { error: Boolean(error) }),
        onInvite: (invitation) => sipjsSession(invitation, 'remote'),
      },
    });
    st.registerer = new SIP.Registerer(ua, { expires: o.expires });
    return ua;
  }

  function sipjsSession(raw, originator) {
    const s = { lib: 'sipjs', raw, originator, established: false, localEnd: false };
    s.code = null;
    s.cause = null;
    s.info = {
      call_id: raw.request.callId,
      from: raw.request.from.uri.toString(),
      from_display_name: raw.request.from.displayName || null,
      to: raw.request.to.uri.toString(),
    };
    record('newRTCSession', { originator, ...s.info });
    raw.delegate = {
      onInvite: () => record('reinvite', { originator: 'remote' }),
      onCancel: () => {
        s.cause = 'Canceled';
      },
    };
    const terminated = () => {
      forget(s);
      const by = s.localEnd ? 'local' : 'remote';
      if (s.established) {
        record('ended', { originator: by, cause: s.localEnd ? 'Terminated' : 'BYE' });
      } else {
        const cause = s.cause || (s.localEnd ? 'Canceled' : 'Terminated');
        record('failed', { originator: by, cause, status_code: s.code });
      }
    };
    raw.stateChange.addListener((state) => {
      if (state === SIP.SessionState.Established) {
        s.established = true;
        record('confirmed', { originator: s.originator });
      } else if (state === SIP.SessionState.Terminated) {
        // An Inviter turns Terminated before it runs the requestDelegate's onReject, which
        // records the final response: report once that has run.
        setTimeout(terminated, 0);
      }
    });
    track(s);
    return s;
  }

  // --- sessions ------------------------------------------------------------------------------
  function track(s) {
    if (s.originator !== 'remote') {
      st.session = s;
      return;
    }
    st.incoming.push(s);
    notify();
    if (st.opts.auto_answer) {
      answerSession(s).catch((e) => record('auto_answer_error', { error: String(e) }));
    }
  }

  function forget(s) {
    st.incoming = st.incoming.filter((x) => x !== s);
    if (st.session === s) st.session = null;
  }

  function currentSession() {
    if (st.session) return st.session;
    if (st.incoming.length) return st.incoming[0];
    throw new Error('no current call');
  }

  // The answer to call/answer/hangup. A confirmed call reports its final response: the 2xx
  // received (UAC) or the 200 sent (UAS).
  function outcome(e, from = 0) {
    let code = e.status_code ?? null;
    if (e.type === 'confirmed') {
      const accepted = st.events.slice(from).find((x) => x.type === 'accepted' && x.status_code);
      code = accepted ? accepted.status_code : 200;
    }
    return {
      state: e.type,
      status_code: code,
      cause: e.cause ?? null,
      originator: e.originator ?? null,
    };
  }

  function answerSession(s) {
    st.incoming = st.incoming.filter((x) => x !== s);
    st.session = s;
    if (s.lib === 'jssip') {
      s.raw.answer({
        mediaStream: micClone(),
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
      });
      return Promise.resolve();
    }
    const constraints = { audio: M.MIC_CONSTRAINTS, video: false };
    return s.raw.accept({ sessionDescriptionHandlerOptions: { constraints } }).catch((e) => {
      s.cause = String(e);
      throw e;
    });
  }

  // Starts the UA and waits for its WebSocket; null, or why it could not connect.
  async function connect(timeoutMs) {
    if (st.ua.isConnected()) return null;
    if (st.opts.lib === 'sipjs') {
      try {
        await M.withTimeout(st.ua.start(), timeoutMs, 'WebSocket connect');
        return null;
      } catch (err) {
        return `transport error: ${err.message}`;
      }
    }
    const from = st.events.length;
    if (!st.started) {
      st.started = true;
      st.ua.start();
    }
    const e = await waitEvent(from, ['connected', 'disconnected'], timeoutMs);
    return e.type === 'connected' ? null : 'transport error';
  }

  function targetUri(target) {
    if (/^sips?:/.test(target)) return target;
    const host = /^sips?:(?:[^@]*@)?([^;?>]+)/.exec(st.opts.uri);
    if (!host) throw new Error(`bad uri ${st.opts.uri}`);
    return `sip:${target}@${host[1]}`;
  }

  // SIP.js answers a request with a response object; these are the fields the results carry.
  const sipjsStatus = (r) => ({ status_code: r.message.statusCode, cause: r.message.reasonPhrase });

  async function setHold(hold, { timeout_ms = 10000 }) {
    const s = currentSession();
    const name = hold ? 'hold' : 'unhold';
    if (s.lib === 'jssip') {
      // JsSIP calls back only on success (and ends the call if the re-INVITE fails); it
      // reports no status code. On hold it also mutes its own microphone track.
      const from = st.events.length;
      const done = new Promise((resolve) => {
        const succeeded = () => resolve(true);
        const started = hold ? s.raw.hold({}, succeeded) : s.raw.unhold({}, succeeded);
        if (!started) resolve(false);
      });
      const ended = waitEvent(from, ['ended', 'failed'], timeout_ms).then(() => false);
      const ok = await M.withTimeout(Promise.race([done, ended]), timeout_ms, name);
      return { held: hold === ok, ok, status_code: null };
    }
    s.raw.sessionDescriptionHandlerOptionsReInvite = {
      hold,
      constraints: { audio: M.MIC_CONSTRAINTS, video: false },
    };
    const result = new Promise((resolve) => {
      const requestDelegate = {
        onAccept: (r) => {
          record(name, { originator: 'local' });
          resolve({ ok: true, ...sipjsStatus(r) });
        },
        onReject: (r) => resolve({ ok: false, ...sipjsStatus(r) }),
      };
      s.raw
        .invite({ requestDelegate })
        .catch((err) => resolve({ ok: false, status_code: null, cause: String(err) }));
    });
    const r = await M.withTimeout(result, timeout_ms, name);
    return { held: hold === r.ok, ...r };
  }

  // A re-INVITE whose offer restarts ICE (RFC 8445 §9: new a=ice-ufrag/a=ice-pwd, gathered
  // afresh), as after `pc.restartIce()` or a network change; media direction is unchanged.
  async function restartIce({ timeout_ms = 10000 }) {
    const s = currentSession();
    const from = st.events.length;
    if (s.lib === 'jssip') {
      // As for hold: JsSIP calls back only on success and ends the call when the re-INVITE
      // fails, reporting no status code.
      const done = new Promise((resolve) => {
        const rtcOfferConstraints = { iceRestart: true, offerToReceiveAudio: true };
        if (!s.raw.renegotiate({ rtcOfferConstraints }, () => resolve(true))) resolve(false);
      });
      const ended = waitEvent(from, ['ended', 'failed'], timeout_ms).then(() => false);
      const ok = await M.withTimeout(Promise.race([done, ended]), timeout_ms, 'restart_ice');
      if (ok) record('ice_restart', { originator: 'local' });
      return { ok, status_code: null };
    }
    s.raw.sessionDescriptionHandlerOptionsReInvite = {
      offerOptions: { iceRestart: true },
      constraints: { audio: M.MIC_CONSTRAINTS, video: false },
    };
    const result = new Promise((resolve) => {
      const requestDelegate = {
        onAccept: (r) => {
          record('ice_restart', { originator: 'local' });
          resolve({ ok: true, ...sipjsStatus(r) });
        },
        onReject: (r) => resolve({ ok: false, ...sipjsStatus(r) }),
      };
      s.raw
        .invite({ requestDelegate })
        .catch((err) => resolve({ ok: false, status_code: null, cause: String(err) }));
    });
    return M.withTimeout(result, timeout_ms, 'restart_ice');
  }

  // --- commands ------------------------------------------------------------------------------
  const phone = {
    async init(o) {
      st.opts = o;
      st.mic = await navigator.mediaDevices.getUserMedia({
        audio: M.MIC_CONSTRAINTS,
        video: false,
      });
      // The fake device reads its WAV when a capture starts and the harness rewrites that file
      // for each phone, so prove that this phone's microphone plays this phone's tone.
      const micTrack = st.mic.getAudioTracks()[0];
      const near = (m) => m.freq_hz !== null && Math.abs(m.freq_hz - o.tone_hz) <= 2 * M.BIN_HZ;
      const deadline = performance.now() + (o.mic_check_ms ?? 4000);
      let mic;
      do {
        mic = await M.analyse(micTrack, 300);
      } while (!near(mic) && performance.now() < deadline);
      if (!near(mic)) {
        throw new Error(`fake microphone plays ${mic.freq_hz} Hz, expected ${o.tone_hz} Hz`);
      }
      if (o.lib === 'jssip') st.ua = jssipCreate(o);
      else if (o.lib === 'sipjs') st.ua = sipjsCreate(o);
      else throw new Error(`unknown lib ${o.lib}`);
      return {
        lib: o.lib,
        lib_version: o.lib === 'jssip' ? JsSIP.version : SIP.version,
        jssip_version: JsSIP.version,
        sipjs_version: SIP.version,
        user_agent: navigator.userAgent,
        mic: { freq_hz: mic.freq_hz, level_db: mic.level_db, rms_dbfs: mic.rms_dbfs },
      };
    },

    async register({ timeout_ms = 10000 } = {}) {
      const failure = await connect(timeout_ms);
      if (failure) return { registered: false, status_code: null, cause: failure };
      const from = st.events.length;
      if (st.opts.lib === 'jssip') {
        st.ua.register();
        const types = ['registered', 'registrationFailed', 'disconnected'];
        const e = await waitEvent(from, types, timeout_ms);
        const cause = e.type === 'disconnected' ? 'transport error' : (e.cause ?? null);
        return { registered: e.type === 'registered', status_code: e.status_code ?? null, cause };
      }
      const result = new Promise((resolve) => {
        const requestDelegate = {
          onAccept: (r) => {
            record('registered', { status_code: r.message.statusCode });
            resolve({ registered: true, status_code: r.message.statusCode, cause: null });
          },
          onReject: (r) => {
            record('registrationFailed', sipjsStatus(r));
            resolve({ registered: false, ...sipjsStatus(r) });
          },
        };
        st.registerer
          .register({ requestDelegate })
          .catch((err) => resolve({ registered: false, status_code: null, cause: String(err) }));
      });
      return M.withTimeout(result, timeout_ms, 'register');
    },

    async unregister({ timeout_ms = 10000 } = {}) {
      const from = st.events.length;
      if (st.opts.lib === 'jssip') {
        st.ua.unregister();
        const types = ['unregistered', 'registrationFailed', 'disconnected'];
        const e = await waitEvent(from, types, timeout_ms);
        return { unregistered: e.type === 'unregistered', status_code: e.status_code ?? null };
      }
      const result = new Promise((resolve) => {
        const requestDelegate = {
          onAccept: (r) => {
            record('unregistered', { status_code: r.message.statusCode });
            resolve({ unregistered: true, status_code: r.message.statusCode });
          },
          onReject: (r) => resolve({ unregistered: false, status_code: r.message.statusCode }),
        };
        st.registerer
          .unregister({ requestDelegate })
          .catch((err) => resolve({ unregistered: false, status_code: null, cause: String(err) }));
      });
      return M.withTimeout(result, timeout_ms, 'unregister');
    },

    async call({ target, timeout_ms = 15000 }) {
      const uri = targetUri(target);
      const failure = await connect(timeout_ms);
      if (failure) {
        return { state: 'failed', status_code: null, cause: failure, originator: 'local' };
      }
      const from = st.events.length;
      if (st.opts.lib === 'jssip') {
        st.ua.call(uri, {
          mediaStream: micClone(),
          mediaConstraints: { audio: true, video: false },
          pcConfig: { iceServers: [] },
          rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
        });
      } else {
        const constraints = { audio: M.MIC_CONSTRAINTS, video: false };
        const inviter = new SIP.Inviter(st.ua, SIP.UserAgent.makeURI(uri), {
          sessionDescriptionHandlerOptions: { constraints },
        });
        const s = sipjsSession(inviter, 'local');
        const requestDelegate = {
          onProgress: (r) =>
            record('progress', { originator: 'remote', status_code: r.message.statusCode }),
          onAccept: (r) =>
            record('accepted', { originator: 'remote', status_code: r.message.statusCode }),
          onReject: (r) => {
            s.code = r.message.statusCode;
            s.cause = r.message.reasonPhrase;
          },
        };
        inviter.invite({ requestDelegate }).catch((err) => {
          s.cause = String(err);
          record('call_error', { error: String(err) });
        });
      }
      const e = await waitEvent(from, ['confirmed', 'failed', 'ended'], timeout_ms);
      // SIP.js reports Established before the 2xx's requestDelegate runs.
      if (e.type === 'confirmed') await waitEvent(from, ['accepted'], 2000).catch(() => null);
      return outcome(e, from);
    },

    async wait_incoming({ timeout_ms = 15000 } = {}) {
      if (!st.incoming.length) {
        await waitEvent(0, ['newRTCSession'], timeout_ms, () => st.incoming.length > 0);
      }
      return st.incoming[0].info;
    },

    async answer({ timeout_ms = 15000 } = {}) {
      if (!st.incoming.length) {
        await waitEvent(0, ['newRTCSession'], timeout_ms, () => st.incoming.length > 0);
      }
      const from = st.events.length;
      await answerSession(st.incoming[0]);
      return outcome(await waitEvent(from, ['confirmed', 'failed', 'ended'], timeout_ms), from);
    },

    async reject({ status_code = 486 } = {}) {
      const s = st.incoming[0];
      if (!s) throw new Error('no incoming call');
      forget(s);
      s.localEnd = true;
      s.code = status_code;
      s.cause = 'Rejected';
      if (s.lib === 'jssip') s.raw.terminate({ status_code });
      else await s.raw.reject({ statusCode: status_code });
      return { rejected: true, status_code };
    },

    async hangup({ timeout_ms = 10000 } = {}) {
      const s = currentSession();
      const from = st.events.length;
      s.localEnd = true;
      if (s.lib === 'jssip') s.raw.terminate();
      else if (s.established) await s.raw.bye();
      else if (s.originator === 'local') await s.raw.cancel();
      else await s.raw.reject();
      return outcome(await waitEvent(from, ['ended', 'failed'], timeout_ms));
    },

    hold: (args) => setHold(true, args || {}),
    unhold: (args) => setHold(false, args || {}),
    restart_ice: (args) => restartIce(args || {}),

    async audio({ ms = 1000 } = {}) {
      const track = remoteAudioTrack();
      if (!track) throw new Error('no remote audio track');
      if (playRemote(track)) await M.sleep(200);
      return M.analyse(track, ms);
    },

    async stats() {
      if (!st.pc) throw new Error('no peer connection');
      return M.summarise(await st.pc.getStats());
    },

    events({ clear = false } = {}) {
      const out = { events: st.events, frames: st.frames };
      if (clear) {
        st.events = [];
        st.frames = [];
      }
      return out;
    },

    async loopback({ timeout_ms = 10000 } = {}) {
      const { pcs, result } = await M.loopbackPair(micClone, adoptPc, dropped, timeout_ms);
      st.loopback = pcs;
      return result;
    },
  };

  window.phone = phone;
})();
