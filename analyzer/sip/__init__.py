"""SIP syntax: one message from bytes, and framing of messages on transports."""
