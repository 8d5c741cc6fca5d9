"""``env='auto'``: the process environment minus every value that carries a credential.

A variable is dropped when its name or its value says it may hold one:

- names (any case) containing PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN, KEY, CRED (CREDENTIAL,
  CREDS), AUTH, COOKIE, SESSION, PRIVATE, CERT, JWT, WEBHOOK or CONNECTION_STRING; ending in PASS,
  ``_PWD`` or ``PW`` (MYSQL_PWD, LDAP_BINDPW), ``_PAT`` (a personal access token) or ``_DSN``;
  containing DATABASE_URL; every ``PGTRACK_DSN_*`` and SQLTrack's ``SQLTRACK_DSN_*`` (connection
  settings, a password among them), and ``PGPASSWORD``;
- values, whatever the name, holding a URL with any user part (``scheme://user[:password]@host``,
  ``https://__token__@...``), a libpq conninfo or query string with ``password=``, ``AccountKey=``,
  ``SharedAccessSignature=`` or ``sig=``, an ``Authorization``-style ``Bearer``/``Basic`` credential,
  a JSON Web Token, a PEM private key, or a token of a known shape: GitHub (``ghp_``, ``gho_``, ``ghu_``,
  ``ghs_``, ``ghr_``, ``github_pat_``), GitLab (``glpat-``), Slack (``xoxb-``, ``xoxa-``, ``xoxp-``, ...,
  and ``hooks.slack.com`` webhooks), AWS access keys (``AKIA`` and 16 more), Google API keys (``AIza``),
  Stripe (``sk_live_``, ``rk_live_``), OpenAI-style ``sk-`` keys (20+ characters after it) and Hugging
  Face ``hf_`` tokens (30+).

The rule errs on the side of dropping (``GIT_AUTHOR_NAME`` goes too): a lost variable costs a line of
context, a stored secret is readable by everyone who may read runs. ``allow`` keeps only names matching
one of its glob patterns (e.g. ``["SLURM_*", "CUDA_*"]``); ``deny`` drops more patterns. The secret
rule wins over ``allow``.
"""
from __future__ import annotations

import fnmatch
import os
import re
from typing import Dict, Iterable, Mapping, Optional

SECRET_MARKERS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "KEY", "CRED", "AUTH", "COOKIE", "SESSION",
                  "PRIVATE", "CERT", "JWT", "WEBHOOK", "CONNECTION_STRING", "DATABASE_URL")
ALWAYS_DENIED = ("PGTRACK_DSN_*", "SQLTRACK_DSN_*", "PGPASSWORD", "*PASS", "*_PWD", "*PW", "*_PAT", "*_DSN")
SECRET_VALUE = re.compile("|".join((
    r"[A-Za-z][A-Za-z0-9+.-]*://[^\s@]+@",  # scheme://user[:password]@, a password with / or # too
    r"(?i:password|accountkey|sharedaccesssignature|sig)\s*=",  # conninfo, query and connection strings
    r"(?i:\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,})",  # an Authorization header's credential
    r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.",  # a JSON Web Token
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"hooks\.slack\.com/services/",
    r"\bAIza[0-9A-Za-z_-]{30,}", r"\b[rs]k_live_[0-9A-Za-z]{10,}",
    r"\bgh[pousr]_[A-Za-z0-9]{16,}", r"\bgithub_pat_[A-Za-z0-9_]{16,}", r"\bglpat-[A-Za-z0-9_-]{16,}",
    r"\bxox[abeoprs]-[A-Za-z0-9-]{8,}", r"\bAKIA[0-9A-Z]{16}", r"\bsk-[A-Za-z0-9_-]{20,}", r"\bhf_[A-Za-z0-9]{30,}",
)))


def is_secret(name: str) -> bool:
    """True when the variable's name says it may hold a credential."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or \
        any(fnmatch.fnmatchcase(upper, pattern) for pattern in ALWAYS_DENIED)


def is_secret_value(value: str) -> bool:
    """True when the value looks like it holds a credential, whatever its variable's name."""
    return SECRET_VALUE.search(value) is not None


def capture_env(allow: Optional[Iterable[str]] = None, deny: Optional[Iterable[str]] = None,
                environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment to record for a run (see the module docstring)."""
    environ = os.environ if environ is None else environ
    allow, deny = list(allow or ()), list(deny or ())
    return {name: value for name, value in sorted(environ.items())
            if not is_secret(name) and not is_secret_value(value)
            and (not allow or any(fnmatch.fnmatchcase(name, p) for p in allow))
            and not any(fnmatch.fnmatchcase(name, p) for p in deny)}
