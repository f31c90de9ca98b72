"""SDP (RFC 8866) model, parser/serializer and RFC 3264 offer/answer."""
