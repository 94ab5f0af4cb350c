"""The SIP grammar as regular expressions, each under the ABNF it implements.

Fragments are quoted from RFC 3261 §25 (and RFC 6665 §8.4, RFC 2046 §5.1.1
where named).  This module holds grammar only: no logic, no parsing
functions.  Where a pattern accepts more than the ABNF, a note under it says
what and why, and who reports the deviation (a defect recorded by the
message parser, or a validation rule): nothing accepted here is silently
forgiven.

Conventions: ``*_RE`` objects are compiled; the plain ``str`` constants are
fragments meant to be embedded.  Header text is matched as ``str`` (decoded
UTF-8 with ``surrogateescape``); the ``*_BYTES_RE`` patterns work on raw
bytes, before any decoding (start-line recognition, line splitting).
"""

from __future__ import annotations

import re

# alphanum  =  ALPHA / DIGIT
# token       =  1*(alphanum / "-" / "." / "!" / "%" / "*"
#                   / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"

# token-nodot       =  1*( alphanum / "-"  / "!" / "%" / "*"
#                          / "_" / "+" / "`" / "'" / "~" )      (RFC 6665 §8.4)
TOKEN_NODOT = r"[A-Za-z0-9\-!%*_+`'~]+"

# LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
# SWS  =  [LWS] ; sep whitespace
#
# Folded lines are unfolded before any value pattern runs, so LWS reduces to
# 1*WSP here.  Tolerance: U+00A0 NO-BREAK SPACE counts as whitespace inside
# header values.  Traces copied from web pages and PDFs replace SP with NBSP
# (catalogue G-9); treating it as a separator lets the rest of the value be
# read, and the message parser records an "nbsp" defect so it is still
# reported.
WSP_CHARS = " \t\xa0"
SWS = r"[ \t\xa0]*"
LWS = r"[ \t\xa0]+"

# quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E
#                         / UTF8-NONASCII
# quoted-pair  =  "\" (%x00-09 / %x0B-0C
#                 / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
QUOTED_PAIR_RE = re.compile(r"\\(.)")

# SEMI    =  SWS ";" SWS ; semicolon
# EQUAL   =  SWS "=" SWS ; equal
# SLASH   =  SWS "/" SWS ; slash
# COMMA   =  SWS "," SWS ; comma
# LAQUOT  =  SWS "<"; left angle quote
# RAQUOT  =  ">" SWS ; right angle quote
SEMI = SWS + ";" + SWS
EQUAL = SWS + "=" + SWS
SLASH = SWS + "/" + SWS

# host             =  hostname / IPv4address / IPv6reference
# hostname         =  *( domainlabel "." ) toplabel [ "." ]
# domainlabel      =  alphanum
#                     / alphanum *( alphanum / "-" ) alphanum
# toplabel         =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
# IPv4address    =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
# IPv6reference  =  "[" IPv6address "]"
# port           =  1*DIGIT
#
# Tolerance: a hostname is any run of alphanumerics, "-", "." and "_".  The
# underscore is not in the ABNF but many stacks emit and accept it
# (catalogue HDR-11c judges it); IPv4 addresses also match this run.  The
# IPv6 reference accepts hex digits, ":" and "." (embedded IPv4) and a zone
# ("%eth0"); checking the address itself is left to ipaddress where needed.
# The port is bounded to 10 digits so that int() stays cheap; a value above
# 65535 is kept for the rules to judge.
HOSTNAME = r"[A-Za-z0-9\-._]+"
IPV6_REFERENCE = r"\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9\-._~]+)?\]"
HOST = rf"(?:{IPV6_REFERENCE}|{HOSTNAME})"
PORT = r"[0-9]{1,10}"

# generic-param  =  token [ EQUAL gen-value ]
# gen-value      =  token / host / quoted-string
#
# One parameter at a time, anchored where the previous one ended: the name,
# an optional value and the SWS before the next SEMI.  Tolerances: an empty
# name (";;branch=..." in RFC 3428 §10 and in traces copied from it) parses
# as a parameter named "" so that the value can be reported rather than the
# whole header rejected, and an empty value ("tag=") is kept as "".
PARAM_RE = re.compile(
    rf"{SEMI}(?P<name>{TOKEN})?(?:{EQUAL}(?P<value>{QUOTED_STRING}|{IPV6_REFERENCE}"
    rf"|[^;,\s\"]*))?{SWS}"
)

# Request-Line   =  Method SP Request-URI SP SIP-Version CRLF
# Method            =  INVITEm / ACKm / OPTIONSm / BYEm
#                      / CANCELm / REGISTERm
#                      / extension-method
# extension-method  =  token
# Request-URI    =  SIP-URI / SIPS-URI / absoluteURI
# SIP-Version    =  "SIP" "/" 1*DIGIT "." 1*DIGIT
#
# The strict form is tried first; it is what conforming traffic uses.
_URI = r"[^\x00-\x20\x7f\xa0]+"
REQUEST_LINE_RE = re.compile(rf"({TOKEN}) ({_URI}) (SIP/[0-9]+\.[0-9]+)")

# Status-Line     =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
# Status-Code     =  Informational / Redirection / Success / Client-Error
#                    / Server-Error / Global-Failure / extension-code
# extension-code  =  3DIGIT
# Reason-Phrase   =  *(reserved / unreserved / escaped
#                    / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
STATUS_LINE_RE = re.compile(r"(SIP/[0-9]+\.[0-9]+) ([0-9]{3}) ([^\x00-\x08\x0a-\x1f\x7f]*)")

# Tolerant start lines, tried when the strict ones fail.  Accepted deviations,
# each recorded as a defect by the parser:
#   * several separators, TAB or U+00A0 instead of one SP, trailing blanks
#     ("start-line-spacing", "nbsp"): text-extracted traces (catalogue G-9)
#     and hand-written test tools produce them, and the meaning is clear;
#   * "sip/2.0" in another case ("version-case"): RFC 3261 §7.1 makes senders
#     use upper case, but the token is unmistakable;
#   * a status line with no SP before an empty reason ("start-line-spacing");
#   * control characters in the Reason-Phrase ("start-line-control"): fuzzed
#     and buggy senders produce them, and the status code is still clear.
# The Request-URI never contains blanks or control characters.
# The method is a token of any case (NOFITY, Invite): it is syntactically
# valid, and judging it belongs to the rules (catalogue HDR-12).
_SEP = r"[ \t\xa0]+"
LOOSE_REQUEST_LINE_RE = re.compile(
    rf"(?P<method>{TOKEN}){_SEP}(?P<uri>{_URI}){_SEP}"
    r"(?P<version>[Ss][Ii][Pp]/[0-9]+\.[0-9]+)[ \t\xa0]*"
)
LOOSE_STATUS_LINE_RE = re.compile(
    rf"(?P<version>[Ss][Ii][Pp]/[0-9]+\.[0-9]+){_SEP}(?P<status>[0-9]{{3}})"
    r"(?:[ \t\xa0](?P<reason>[^\r\n]*))?"
)

# Recognition on raw bytes (match_start_line): a prefix that can only begin a
# SIP request or status line, with the same tolerances as above.  Binary data
# fails at the first byte; HTTP fails on the version token.  The NBSP is
# matched as its UTF-8 encoding c2 a0.
_BSEP = rb"(?:[ \t]|\xc2\xa0)+"
START_LINE_BYTES_RE = re.compile(
    rb"(?:[A-Za-z0-9\-.!%*_+`'~]+"
    + _BSEP
    + rb"[^\x00-\x20\x7f]+?"
    + _BSEP
    + rb"[Ss][Ii][Pp]/[0-9]+\.[0-9]+"
    rb"(?:[ \t\r\n]|\xc2\xa0|$)"
    rb"|[Ss][Ii][Pp]/[0-9]+\.[0-9]+" + _BSEP + rb"[0-9]{3}(?:[ \t\r\n]|\xc2\xa0|$))"
)

# message-header  =  (Accept / ... / extension-header) CRLF
# extension-header  =  header-name HCOLON header-value
# header-name       =  token
# header-value      =  *(TEXT-UTF8char / UTF8-CONT / LWS)
# HCOLON  =  *( SP / HTAB ) ":" SWS
# TEXT-UTF8char  =  %x21-7E / UTF8-NONASCII
#
# Used on lines the fast path could not take.  The value excludes control
# characters: a line carrying them is not a header line.  Surrounding
# whitespace is stripped by the caller (a regex doing it would backtrack over
# long runs of blanks).
HEADER_LINE_RE = re.compile(rf"(?P<name>{TOKEN})[ \t]*:(?P<value>[^\x00-\x08\x0a-\x1f\x7f]*)")

# Line ends on raw bytes: CRLF, and (tolerance, recorded as "bare-lf") LF
# alone, which text-extracted traces and LF-normalising export tools produce.
LINE_END_BYTES_RE = re.compile(rb"\r?\n")

# A line that is meant as a header but is not one ("Content=Length: 10"): some
# run of non-blank characters and then a colon.  When a message has no empty
# line, lines of this shape still belong to the header section, and the body
# starts at the first line of another shape (see message.py).
HEADER_LIKE_BYTES_RE = re.compile(rb"[^\s:]+[ \t]*:")

# Control characters that cannot appear in a header line: everything below
# SP except HTAB, and DEL.  CR and LF are included: after lines are split,
# one left inside a line is a bare CR.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Control characters that text never contains (CR, LF and HTAB excepted): a
# body made of lines with none of them can be text that lost its empty line.
BINARY_BYTES_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
# Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
#
# Read with str.split() and str.isdigit() rather than a regex: they run for
# every message, and a regex call costs several times more.  Digits must be
# ASCII ("²".isdigit() is true), and numbers are read only up to this many
# digits: more than any 64-bit counter, and CPython refuses int() on very
# long digit strings (int_max_str_digits) besides making it quadratic.  A
# longer number is a value the parser cannot read.  The CSeq method is kept
# as written, token or not; comparing it with the request method is a rule
# (catalogue CSEQ-2).
MAX_NUMBER_DIGITS = 20

# Via               =  ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
# via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol     =  protocol-name SLASH protocol-version
#                      SLASH transport
# protocol-name     =  "SIP" / token
# protocol-version  =  token
# transport         =  "UDP" / "TCP" / "TLS" / "SCTP"
#                      / other-transport
# sent-by           =  host [ COLON port ]
#
# COLON is SWS ":" SWS.
VIA_RE = re.compile(
    rf"{SWS}(?P<protocol>{TOKEN}){SLASH}(?P<version>{TOKEN}){SLASH}(?P<transport>{TOKEN})"
    rf"{LWS}(?P<host>{HOST})(?:{SWS}:{SWS}(?P<port>{PORT}))?"
)

# name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
# addr-spec      =  SIP-URI / SIPS-URI / absoluteURI
# display-name   =  *(token LWS)/ quoted-string
#
# The display name is what precedes "<": a quoted-string, or (tolerance) any
# text without quotes, since unquoted names with non-token characters
# ("Alice (home)", UTF-8 letters) are common and unambiguous.  addr-spec is
# not decomposed: URIs are opaque strings to the parser.
QUOTED_STRING_RE = re.compile(QUOTED_STRING)

# tag-param   =  "tag" EQUAL token
# via-branch  =  "branch" EQUAL token
#
# For the eager fields only: the first "tag" / "branch" parameter in a
# parameter section, name case-insensitive, with SWS after ";" and around
# EQUAL (SWS before ";" is not matched so that the search can start at each
# ";" found by a fast literal scan; it does not change what is found).
# ";tab=" and ";xtag=" do not match.
#
# The value class lists its stop characters explicitly rather than using \s:
# sre tests a literal set with one bitmap lookup but a category per call,
# and these run for every message.
_PARAM_VALUE = r"([^;, \t\xa0]*)"
TAG_PARAM_RE = re.compile(rf";{SWS}[Tt][Aa][Gg]{EQUAL}{_PARAM_VALUE}")
BRANCH_PARAM_RE = re.compile(rf";{SWS}[Bb][Rr][Aa][Nn][Cc][Hh]{EQUAL}{_PARAM_VALUE}")

# media-type     =  m-type SLASH m-subtype *(SEMI m-parameter)
# m-type           =  discrete-type / composite-type
# m-subtype        =  extension-token / iana-token
# m-parameter    =  m-attribute EQUAL m-value
# m-value        =  token / quoted-string
MEDIA_TYPE_RE = re.compile(rf"{SWS}(?P<type>{TOKEN}){SLASH}(?P<subtype>{TOKEN}){SWS}")

# Event             =  ( "Event" / "o" ) HCOLON event-type
#                      *( SEMI event-param )
# event-type        =  event-package *( "." event-template )
# event-package     =  token-nodot
# event-template    =  token-nodot
# event-param       =  generic-param / ( "id" EQUAL token )     (RFC 6665 §8.4)
EVENT_TYPE_RE = re.compile(rf"{SWS}(?P<type>{TOKEN_NODOT}(?:\.{TOKEN_NODOT})*){SWS}")

# Subscription-State   = "Subscription-State" HCOLON substate-value
#                        *( SEMI subexp-params )
# substate-value       = "active" / "pending" / "terminated"
#                        / extension-substate
# extension-substate   = token
# subexp-params        =   ("reason" EQUAL event-reason-value)
#                        / ("expires" EQUAL delta-seconds)
#                        / ("retry-after" EQUAL delta-seconds)
#                        / generic-param                      (RFC 6665 §8.4)
# delta-seconds      =  1*DIGIT
SUBSTATE_RE = re.compile(rf"{SWS}(?P<state>{TOKEN}){SWS}")
DELTA_SECONDS_RE = re.compile(rf"[0-9]{{1,{MAX_NUMBER_DIGITS}}}")

# boundary := 0*69<bchars> bcharsnospace
# bchars := bcharsnospace / " "
# bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" /
#                  "+" / "_" / "," / "-" / "." /
#                  "/" / ":" / "=" / "?"                       (RFC 2046 §5.1.1)
BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
