"""Media protocol cores: RTP/RTCP, STUN/ICE-lite, DTLS-SRTP, SRTP, codecs."""
