"""Everything below SIP: link layers, IP and fragments, tunnels, UDP/TCP/SCTP."""
