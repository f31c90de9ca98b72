"""The sip.conf option table: chan_sip option names (ASTERISK-REFERENCE §1.3, §1.4), typed.

Every option chan_sip documents as mattering is recognised by name. The ones pbx implements are
parsed into typed values; the others are reported once per line as unsupported (or obsolete) so
that real-world files still load. A few options describe something pbx does one fixed way
(``dtlsverify``, ``force_avp``, ``session-timers`` ...): they are typed, the value that matches
pbx is accepted silently and :mod:`pbx.config.sip_conf` warns about any other. ``rtp.conf``
options written into ``sip.conf`` get a warning that points at ``rtp.conf``, where pbx reads
them (as Asterisk does).

Scopes: ``G`` options may be written in ``[general]`` (as the default of every device) and in
device sections; ``general`` and ``device`` options only in one of them.

pbx extensions (not chan_sip options): ``webrtc``, ``max_contacts``, ``maxmessagesize``.
"""

from __future__ import annotations

from pbx import __version__
from pbx.config import acl, codecs
from pbx.config import parsers as p
from pbx.config import sip_values as v
from pbx.config.schema import Option, OptionTable, Scope, Status, obsolete, unsupported
from pbx.core.addr import Address, TransportKind

G = Scope.BOTH
DEV = Scope.DEVICE

# --- device options (ASTERISK-REFERENCE §1.3) ---------------------------------------------------

TYPE = Option(
    "type",
    p.TEXT,
    "",
    "friend (matched by name and by address), peer (matched by "
    "source address; callable) or user (matched by From name; inbound only). "
    "Required.",
    scope=DEV,
)
HOST = Option(
    "host",
    v.PEER_HOST_VALUE,
    "",
    "dynamic (the device REGISTERs) or a fixed host name/IP.",
    scope=DEV,
)
PORT = Option(
    "port",
    p.integer(1, 65535),
    None,
    "Remote port of a static host or of "
    "defaultip (default 5060, 5061 when the first transport is tls).",
    scope=DEV,
)
DEFAULTIP = Option(
    "defaultip", p.HOST, None, "Address used for a dynamic device until it registers.", scope=DEV
)
DEFAULTUSER = Option(
    "defaultuser",
    p.TEXT,
    "",
    "User part of the Request-URI when calling the device before it registers.",
    deprecated_aliases=("username",),
    scope=DEV,
)
SECRET = Option(
    "secret",
    p.TEXT,
    "",
    "Password the device authenticates with; with secret and "
    "md5secret empty the device is never challenged.",
    scope=DEV,
)
MD5SECRET = Option(
    "md5secret",
    v.MD5SECRET_VALUE,
    "",
    "MD5(name:realm:secret), used when secret is empty.",
    scope=DEV,
)
REMOTESECRET = Option(
    "remotesecret",
    p.TEXT,
    "",
    "Password pbx uses when the device challenges it (falls back to secret).",
    scope=DEV,
)
CONTEXT = Option(
    "context",
    p.TEXT,
    "default",
    "Dialplan context for calls from the device; in [general] also the guest context.",
    scope=G,
)
CALLERID = Option(
    "callerid",
    v.CALLERID_VALUE,
    v.CallerId("", ""),
    'Caller ID "Name" <number> '
    "forced on calls from the device. In [general] a different setting: the "
    "caller ID of calls pbx originates without one (default asterisk).",
    scope=G,
    inherit=False,
)
FROMUSER = Option("fromuser", p.TEXT, "", "User part of From: when calling the device.", scope=G)
FROMDOMAIN = Option(
    "fromdomain", v.HOSTPORT_VALUE, "", "host[:port] of From: when calling the device.", scope=G
)
TRANSPORT = Option(
    "transport",
    v.TRANSPORTS_VALUE,
    (TransportKind.UDP,),
    "Allowed transports; "
    "the first is used for outbound requests. tcp needs tcpenable and tls needs "
    "tlsenable, else they are dropped with a warning.",
    scope=G,
)
AVPF = Option(
    "avpf", p.BOOL, False, "Offer AVPF profiles (RTP/SAVPF ...); browsers need it.", scope=G
)
ENCRYPTION = Option(
    "encryption", p.BOOL, False, "Offer only SRTP, and require it on incoming calls.", scope=G
)
ENCRYPTION_TAGLEN = Option(
    "encryption_taglen",
    v.TAGLEN_VALUE,
    80,
    "SRTP authentication tag length (bits) of the SDES suite offered first: 80 offers "
    "AES_CM_128_HMAC_SHA1_80 as a=crypto tag 1, 32 offers AES_CM_128_HMAC_SHA1_32. pbx adds "
    "the other suite as tag 2 (chan_sip offers one line) so the answerer may pick either; "
    "answers take what the offer chose.",
    scope=G,
)
FORCE_AVP = Option(
    "force_avp",
    p.BOOL,
    False,
    "Write RTP/SAVP(F) instead of UDP/TLS/RTP/SAVP(F) with DTLS (legacy browsers). pbx always "
    "offers UDP/TLS/RTP/SAVP(F) with DTLS, so only no is honoured; yes draws a warning.",
    scope=G,
)
ICESUPPORT = Option(
    "icesupport", p.BOOL, False, "ICE in SDP (pbx is ICE-lite); browsers need it.", scope=G
)
RTCP_MUX = Option(
    "rtcp_mux", p.BOOL, False, "Offer and accept a=rtcp-mux (RFC 5761); browsers need it.", scope=G
)
DTLSENABLE = Option(
    "dtlsenable", p.BOOL, False, "DTLS-SRTP on the device's media (browsers).", scope=DEV
)
DTLSVERIFY = Option(
    "dtlsverify",
    p.choice("no", "yes", "fingerprint", "certificate"),
    "no",
    "What to verify of the DTLS peer. pbx always checks the peer's certificate against its "
    "a=fingerprint and nothing else (also when unset), which is what fingerprint asks for; "
    "any other written value draws a warning.",
    scope=G,
)
DTLSCERTFILE = Option(
    "dtlscertfile", p.PATH, None, "PEM certificate presented in DTLS; must be readable.", scope=G
)
DTLSPRIVATEKEY = Option(
    "dtlsprivatekey",
    p.PATH,
    None,
    "PEM private key of dtlscertfile (default: inside dtlscertfile).",
    scope=G,
)
DTLSAUTOGENERATECERT = Option(
    "dtlsautogeneratecert",
    p.BOOL,
    False,
    "Use an ephemeral self-signed certificate; conflicts with dtlscertfile.",
    scope=G,
)
DTLSSETUP = Option(
    "dtlssetup",
    p.choice("active", "passive", "actpass"),
    "active",
    "Our a=setup role. chan_sip's code default is active; the pbx samples set actpass.",
    scope=G,
)
DTLSFINGERPRINT = Option(
    "dtlsfingerprint",
    p.choice("sha-1", "sha-256"),
    "sha-256",
    "Hash used in a=fingerprint.",
    scope=G,
)
NAT = Option(
    "nat",
    v.NAT_VALUE,
    v.Nat(),
    "NAT handling. Set it in [general] only: a device "
    "value that differs lets an attacker tell device names from unknown names.",
    scope=G,
)
QUALIFY = Option(
    "qualify",
    v.QUALIFY_VALUE,
    None,
    "Ping with OPTIONS; the value is the most ms before the device counts as LAGGED (yes = 2000).",
    scope=G,
)
QUALIFYFREQ = Option(
    "qualifyfreq",
    p.integer(1, unit="seconds"),
    60,
    "Seconds between pings of a reachable device.",
    scope=G,
)
KEEPALIVE = Option(
    "keepalive", v.KEEPALIVE_VALUE, 0, "Send keepalive packets every N seconds (yes = 60).", scope=G
)
DIRECTMEDIA = Option(
    "directmedia",
    v.DIRECTMEDIA_VALUE,
    True,
    "Re-INVITE the endpoints to send media to each other. pbx always anchors media: treated as no.",
    aliases=("canreinvite",),
    scope=G,
)
ALLOW = Option(
    "allow",
    codecs.ALLOW,
    (),
    "Append codecs to the preference list; ordered with "
    "disallow lines (default list ulaw,alaw,gsm,h263).",
    scope=G,
    multi=True,
)
DISALLOW = Option(
    "disallow",
    codecs.DISALLOW,
    (),
    "Remove codecs from the preference list (all empties it).",
    scope=G,
    multi=True,
)
DTMFMODE = Option(
    "dtmfmode", v.DTMFMODE_VALUE, "rfc2833", "DTMF method; an unknown value means rfc2833.", scope=G
)
INSECURE = Option(
    "insecure",
    v.INSECURE_VALUE,
    v.Insecure(),
    "port: match the device by IP without port; invite: do not challenge its INVITEs.",
    scope=G,
)
PERMIT = Option(
    "permit",
    acl.PERMIT,
    None,
    "Allow source addresses; ordered with deny, the last match wins, default allow.",
    scope=DEV,
    multi=True,
)
DENY = Option("deny", acl.DENY, None, "Deny source addresses.", scope=DEV, multi=True)
CONTACTPERMIT = Option(
    "contactpermit",
    acl.PERMIT,
    None,
    "Allow Contact addresses in REGISTER; ordered with contactdeny.",
    scope=G,
    multi=True,
)
CONTACTDENY = Option(
    "contactdeny", acl.DENY, None, "Deny Contact addresses in REGISTER.", scope=G, multi=True
)
CALL_LIMIT = Option(
    "call-limit", p.integer(0), 0, "Most simultaneous calls; 0 = unlimited.", scope=DEV
)
BUSYLEVEL = Option(
    "busylevel", p.integer(0), 0, "Device state is BUSY from this many calls.", scope=DEV
)
CALLCOUNTER = Option(
    "callcounter",
    p.BOOL,
    False,
    "Count calls (for hints) without a call-limit. pbx always counts every device's calls "
    "(SIPPEER(name,curcalls)), which is what yes asks for; a written no draws a warning.",
    scope=G,
)
DESCRIPTION = Option("description", p.TEXT, "", "Free text shown by 'sip show peers'.", scope=DEV)
RTPTIMEOUT = Option(
    "rtptimeout",
    p.integer(0, unit="seconds"),
    0,
    "Hang up after this many seconds without RTP; 0 = off.",
    scope=G,
)
RTPHOLDTIMEOUT = Option(
    "rtpholdtimeout",
    p.integer(0, unit="seconds"),
    0,
    "As rtptimeout while on hold; must be larger than rtptimeout.",
    scope=G,
)
RTPKEEPALIVE = Option(
    "rtpkeepalive",
    p.integer(0, unit="seconds"),
    0,
    "Send comfort packets every N seconds to keep NAT bindings open. pbx sends none, which "
    "is what 0 asks for; any other written value draws a warning.",
    scope=G,
)
SESSION_TIMERS = Option(
    "session-timers",
    p.choice("accept", "originate", "refuse"),
    "accept",
    "RFC 4028 session timer mode. pbx implements no session timers (it ignores "
    "Session-Expires and never refreshes), which is what refuse asks for; accept and "
    "originate, when written, draw a warning.",
    scope=G,
)
SETVAR = Option(
    "setvar",
    v.SETVAR_VALUE,
    None,
    "Channel variable NAME=value set on every call of the device.",
    scope=DEV,
    multi=True,
)
LANGUAGE = Option("language", p.TEXT, "", "Channel language.", scope=G)
ACCOUNTCODE = Option("accountcode", p.TEXT, "", "CDR account code.", scope=G)
ALLOWTRANSFER = Option(
    "allowtransfer",
    p.BOOL,
    True,
    "Accept blind transfers (REFER without Replaces) from the device; no answers them 603.",
    scope=G,
)
AMAFLAGS = Option(
    "amaflags",
    p.choice("default", "omit", "billing", "documentation"),
    "documentation",
    "CDR AMA flags.",
    scope=G,
)
WEBRTC = Option(
    "webrtc",
    p.BOOL,
    False,
    "pbx extension, as chan_pjsip's webrtc=yes: sets avpf, "
    "icesupport, rtcp_mux, dtlsenable, dtlsverify=fingerprint, dtlssetup=actpass, "
    "dtlsautogeneratecert (unless dtlscertfile is set), encryption and "
    "nat=force_rport,comedia, except those the section sets itself.",
    scope=DEV,
)
MAX_CONTACTS = Option(
    "max_contacts",
    p.integer(1, 100),
    1,
    "pbx extension: contacts one "
    "device may register; chan_sip keeps 1. A device without a value here "
    "or in [general] gets 5 if it uses webrtc, ws or wss.",
    scope=G,
)

# --- [general] options (ASTERISK-REFERENCE §1.4) ------------------------------------------------

UDPBINDADDR = Option(
    "udpbindaddr",
    p.address(5060, ip_only=True),
    Address("0.0.0.0", 5060),
    "UDP listen address[:port]; [::] listens on IPv6 and IPv4.",
    aliases=("bindaddr",),
)
BINDPORT = Option(
    "bindport",
    p.integer(1, 65535),
    None,
    "Port of udpbindaddr when it has none.",
    status=Status.DEPRECATED,
    note="use udpbindaddr=address:port",
)
TCPENABLE = Option("tcpenable", p.BOOL, False, "Listen on TCP.")
TCPBINDADDR = Option(
    "tcpbindaddr",
    p.address(5060, ip_only=True),
    None,
    "TCP listen address[:port] (default: udpbindaddr's host, port 5060).",
)
TLSENABLE = Option("tlsenable", p.BOOL, False, "Listen on TLS.")
TLSBINDADDR = Option(
    "tlsbindaddr",
    p.address(5061, ip_only=True),
    None,
    "TLS listen address[:port] (default: udpbindaddr's host, port 5061).",
)
TLSCERTFILE = Option(
    "tlscertfile",
    p.PATH,
    "asterisk.pem",
    "PEM certificate (may also hold the key) for TLS, relative to the config dir. When not "
    "set and the default file is absent, pbx uses a certificate from its local CA.",
)
TLSPRIVATEKEY = Option(
    "tlsprivatekey", p.PATH, None, "PEM private key (default: inside tlscertfile)."
)
TLSCAFILE = Option(
    "tlscafile",
    p.PATH,
    None,
    "CA file (PEM) TLS servers pbx connects to are verified against (default: the system's).",
)
TLSDONTVERIFYSERVER = Option(
    "tlsdontverifyserver",
    p.BOOL,
    False,
    "Accept any certificate from the TLS servers pbx connects to.",
)
TLSCIPHER = Option("tlscipher", p.TEXT, "", "OpenSSL cipher list for TLS.")
WEBSOCKET_ENABLED = Option(
    "websocket_enabled",
    p.BOOL,
    True,
    "Accept SIP over WebSocket (RFC 7118) at /ws of the http.conf server.",
)
ALLOWGUEST = Option(
    "allowguest",
    p.BOOL,
    True,
    "Run calls that match no device in the [general] context, unauthenticated.",
)
ALWAYSAUTHREJECT = Option(
    "alwaysauthreject",
    p.BOOL,
    True,
    "Answer unknown users exactly like known ones (401, then 403), so names cannot be enumerated.",
)
REALM = Option("realm", p.TEXT, "asterisk", "Digest realm (pbx.conf systemname when not set).")
USERAGENT = Option("useragent", p.TEXT, f"pbx {__version__}", "User-Agent and Server header.")
SDPSESSION = Option("sdpsession", p.TEXT, f"pbx {__version__}", "SDP s= line.")
SDPOWNER = Option("sdpowner", p.TEXT, "root", "User name of the SDP o= line.")
MINEXPIRY = Option(
    "minexpiry",
    p.integer(1, unit="seconds"),
    60,
    "Shortest registration; shorter requests are raised to it (no 423).",
)
MAXEXPIRY = Option("maxexpiry", p.integer(1, unit="seconds"), 3600, "Longest registration granted.")
DEFAULTEXPIRY = Option(
    "defaultexpiry",
    p.integer(1, unit="seconds"),
    120,
    "Registration length when a REGISTER gives none, and the Expires of outbound "
    "registrations without ~expiry.",
)
REGISTER = Option(
    "register",
    v.REGISTRATION_VALUE,
    None,
    "Outbound registration to a provider (repeatable): "
    "[peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/extension][~expiry].",
    multi=True,
)
REGISTERTIMEOUT = Option(
    "registertimeout",
    p.integer(1, unit="seconds"),
    20,
    "Seconds to wait for the answer to an outbound REGISTER, and before retrying a failed one.",
)
REGISTERATTEMPTS = Option(
    "registerattempts",
    p.integer(0),
    0,
    "Outbound REGISTER attempts before giving up (0: retry forever).",
)
REGISTER_RETRY_403 = Option(
    "register_retry_403",
    p.BOOL,
    False,
    "Keep retrying an outbound registration the provider answered 403 Forbidden.",
)
ALLOWOVERLAP = Option(
    "allowoverlap",
    p.BOOL,
    True,
    "Answer 484 Address Incomplete to a dialled prefix of an extension.",
)
EXTERNADDR = Option(
    "externaddr",
    p.address(0),
    None,
    "Public address[:port] written into Via, Contact and SDP for peers outside every "
    "localnet (no effect without localnet, as in chan_sip); the port applies to UDP.",
    aliases=("externip",),
)
MEDIA_ADDRESS = Option(
    "media_address",
    p.IP,
    None,
    "Address written into SDP c= lines and ICE candidates for every peer (RTP still binds to "
    "udpbindaddr's address).",
)
LOCALNET = Option(
    "localnet", p.NETWORK, None, "A network that is not behind NAT (repeatable).", multi=True
)
MAXMESSAGESIZE = Option(
    "maxmessagesize",
    p.integer(1500, unit="bytes"),
    65536,
    "pbx extension: largest SIP message accepted (larger ones get 513).",
)

_SECONDARY = (
    ("mohinterpret", "Music on hold class played by this channel."),
    ("mohsuggest", "Music on hold class suggested to the far end."),
    ("subscribecontext", "Context for SUBSCRIBE hints."),
    ("allowsubscribe", "Accept SUBSCRIBE."),
    ("videosupport", "Video calls."),
    ("textsupport", "T.140 real-time text."),
    ("t38pt_udptl", "T.38 fax."),
    ("sendrpid", "Send Remote-Party-ID / P-Asserted-Identity."),
    ("trustrpid", "Trust Remote-Party-ID."),
    ("trust_id_outbound", "Send identity headers outbound."),
    ("callingpres", "Caller ID presentation."),
    ("progressinband", "In-band progress tones."),
    ("outboundproxy", "Proxy for outbound requests."),
    ("supportpath", "RFC 3327 Path."),
    ("timert1", "SIP timer T1."),
    ("timerb", "SIP timer B."),
    ("maxforwards", "Max-Forwards of requests pbx sends."),
    ("usereqphone", "user=phone in URIs."),
    ("use_q850_reason", "Reason: Q.850 headers."),
    ("contactacl", "Named contact ACL from acl.conf (use contactpermit/contactdeny)."),
    ("dtlscafile", "CA file for dtlsverify=certificate (pbx verifies by fingerprint only)."),
    ("dtlscapath", "CA directory for DTLS verification."),
    ("dtlscipher", "OpenSSL cipher string for DTLS."),
    ("dtlsrekey", "Renegotiate DTLS-SRTP every N seconds."),
    ("session-expires", "RFC 4028 session interval (pbx implements no session timers)."),
    ("session-minse", "Smallest RFC 4028 session interval accepted."),
    ("session-refresher", "Preferred RFC 4028 refresher."),
)

_DEVICE_ONLY_UNSUPPORTED = (
    ("acl", "Named ACL from acl.conf (use permit/deny)."),
    ("mailbox", "MWI mailboxes (NOTIFY message-summary)."),
    ("regexten", "Extension created in regcontext when the device registers."),
    ("callgroup", "Call groups for pickup."),
    ("pickupgroup", "Pickup groups."),
    ("auth", "Realm credentials for outbound authentication."),
)

_GENERAL_ONLY_UNSUPPORTED = (
    ("tcpauthtimeout", "Seconds an unauthenticated TCP connection may stay."),
    ("tcpauthlimit", "Unauthenticated TCP connections allowed."),
    ("tlscapath", "CA directory for TLS."),
    ("tlsclientmethod", "TLS method for outbound connections."),
    ("websocket_write_timeout", "WebSocket write timeout in ms."),
    ("domainsasrealm", "Use the domain as digest realm."),
    ("domain", "Local SIP domains."),
    ("allowexternaldomains", "Accept requests for foreign domains."),
    ("autodomain", "Add local addresses as domains."),
    ("srvlookup", "DNS SRV lookups for outbound calls."),
    ("externhost", "Host name resolved for externaddr."),
    ("externrefresh", "Re-resolve externhost every N seconds."),
    ("rtpbindaddr", "Address RTP sockets bind to."),
    ("submaxexpiry", "Longest subscription."),
    ("subminexpiry", "Shortest subscription."),
    ("mwiexpiry", "MWI subscription length."),
    ("qualifygap", "Milliseconds between batches of qualify pings (pbx spreads pings itself)."),
    ("qualifypeers", "Devices qualified per batch."),
    ("pedantic", "Strict dialog matching."),
    ("regcontext", "Context for extensions created on registration."),
    ("regextenonqualify", "Remove regexten while the device is unreachable."),
    ("autocreatepeer", "Create a device for anyone who registers (a security hole)."),
    ("accept_outofcall_message", "MESSAGE outside calls."),
    ("auth_message_requests", "Challenge MESSAGE."),
    ("outofcall_message_context", "Context for MESSAGE outside calls."),
    ("auth_options_requests", "Challenge OPTIONS."),
    ("sipdebug", "SIP debugging from start-up."),
    ("recordhistory", "Record dialog history."),
    ("dumphistory", "Dump dialog history at hangup."),
)

REGISTERTRYING = obsolete(
    "registertrying",
    "removed in Asterisk 11",
    "Sent 100 Trying to REGISTER (RFC 3261 forbids provisional responses to non-INVITE).",
)

RTP_CONF_OPTIONS = ("rtpstart", "rtpend", "strictrtp", "stunaddr", "turnaddr", "dtls_mtu")
"""rtp.conf options (ASTERISK-REFERENCE §1.4, last row) that admins sometimes put in sip.conf."""

SIP_OPTIONS = OptionTable(
    "sip.conf: [general] and device sections",
    (
        TYPE,
        HOST,
        PORT,
        DEFAULTIP,
        DEFAULTUSER,
        SECRET,
        MD5SECRET,
        REMOTESECRET,
        CONTEXT,
        CALLERID,
        FROMUSER,
        FROMDOMAIN,
        TRANSPORT,
        AVPF,
        ENCRYPTION,
        ENCRYPTION_TAGLEN,
        FORCE_AVP,
        ICESUPPORT,
        RTCP_MUX,
        DTLSENABLE,
        DTLSVERIFY,
        DTLSCERTFILE,
        DTLSPRIVATEKEY,
        DTLSAUTOGENERATECERT,
        DTLSSETUP,
        DTLSFINGERPRINT,
        NAT,
        QUALIFY,
        QUALIFYFREQ,
        KEEPALIVE,
        DIRECTMEDIA,
        ALLOW,
        DISALLOW,
        DTMFMODE,
        INSECURE,
        PERMIT,
        DENY,
        CONTACTPERMIT,
        CONTACTDENY,
        CALL_LIMIT,
        BUSYLEVEL,
        CALLCOUNTER,
        DESCRIPTION,
        RTPTIMEOUT,
        RTPHOLDTIMEOUT,
        RTPKEEPALIVE,
        SESSION_TIMERS,
        SETVAR,
        LANGUAGE,
        ACCOUNTCODE,
        AMAFLAGS,
        ALLOWTRANSFER,
        WEBRTC,
        MAX_CONTACTS,
        UDPBINDADDR,
        BINDPORT,
        TCPENABLE,
        TCPBINDADDR,
        TLSENABLE,
        TLSBINDADDR,
        TLSCERTFILE,
        TLSPRIVATEKEY,
        TLSCAFILE,
        TLSDONTVERIFYSERVER,
        TLSCIPHER,
        WEBSOCKET_ENABLED,
        ALLOWGUEST,
        ALWAYSAUTHREJECT,
        REALM,
        USERAGENT,
        SDPSESSION,
        SDPOWNER,
        MINEXPIRY,
        MAXEXPIRY,
        DEFAULTEXPIRY,
        REGISTER,
        REGISTERTIMEOUT,
        REGISTERATTEMPTS,
        REGISTER_RETRY_403,
        ALLOWOVERLAP,
        EXTERNADDR,
        MEDIA_ADDRESS,
        LOCALNET,
        MAXMESSAGESIZE,
        *(unsupported(name, text, G) for name, text in _SECONDARY),
        *(unsupported(name, text, DEV) for name, text in _DEVICE_ONLY_UNSUPPORTED),
        *(unsupported(name, text, Scope.GENERAL) for name, text in _GENERAL_ONLY_UNSUPPORTED),
        REGISTERTRYING,
    ),
    elsewhere={name: "rtp.conf" for name in RTP_CONF_OPTIONS},
)

AUTH = Option(
    "auth",
    v.AUTH_VALUE,
    None,
    "user:secret@realm or user#md5secret@realm: credentials pbx answers a challenge "
    "with that realm with, before any peer's own (repeatable).",
    multi=True,
)

AUTHENTICATION_OPTIONS = OptionTable("sip.conf: [authentication]", (AUTH,))
