"""The extensions.conf dialplan: parser, pattern matching, expressions, engine and applications."""
