"""SIP (RFC 3261) protocol core: messages, transport rules, transactions, dialogs, registrar."""
