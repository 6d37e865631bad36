"""The app's pages: one Jinja2 environment per language, and ``render``, which adds what every
page needs (language, direction, CSRF token, the worker) and the security headers.

Autoescape is on; ``_``, ``gettext`` and ``ngettext`` are the locale's, new-style
(``_("Hello %(name)s", name=...)`` escapes its values); filters ``money``, ``number``,
``percent``, ``datetime`` format for the locale; ``static(path)`` is ``/app/static/<path>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from engine.domain.money import Money
from engine.worker_app import i18n
from engine.worker_app.auth import AppCallerInfo
from engine.worker_app.labels import LABELS

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_PREFIX = "/app/static/"


def static(path: str) -> str:
    return STATIC_PREFIX + path.lstrip("/")


@lru_cache(maxsize=len(i18n.LOCALES))
def environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda money: i18n.format_money(money, locale)
    env.filters["number"] = lambda value: i18n.format_decimal(value, locale)
    env.filters["percent"] = lambda share: i18n.format_percent(share, locale)
    env.filters["datetime"] = lambda moment: i18n.format_datetime(moment, locale)
    translated = i18n.translations(locale)
    for group, names in LABELS.items():
        env.globals[group] = {code: translated.gettext(text) for code, text in names.items()}
    env.globals.update(
        template_exists=lambda name: _exists(env, name),
        static=static,
        locales=i18n.LOCALES,
        language_names=i18n.LANGUAGE_NAMES,
        Money=Money,
    )
    return env


def _exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    return True


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def media_origins(request: Request) -> list[str]:
    """Where a page's images and audio may come from besides the app itself: the engine's
    public URL (signed /v1/media links) and the S3 endpoint (presigned links)."""
    settings = request.app.state.ctx.settings
    origins = [_origin(settings.public_url)]
    if settings.store_backend == "s3":
        scheme = "https" if settings.s3_secure else "http"
        origins.append(_origin(f"{scheme}://{settings.s3_endpoint}"))
    return sorted({o for o in origins if o})


def content_security_policy(request: Request, extra: Mapping[str, str] | None = None) -> str:
    media = " ".join(media_origins(request))
    directives = {
        "default-src": "'self'",
        "img-src": f"'self' data: blob: {media}",
        "media-src": f"'self' blob: {media}",
        "script-src": "'self'",
        "style-src": "'self'",
        "connect-src": "'self'",
        "worker-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    for name, sources in (extra or {}).items():  # a page that needs more (the full editor)
        directives[name] = f"{directives.get(name, '')} {sources}".strip()
    return "; ".join(f"{name} {value.strip()}" for name, value in directives.items())


def security_headers(
    request: Request, csp_extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(request, csp_extra),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "private, no-cache",
    }


def request_locale(request: Request, caller: AppCallerInfo | None) -> str:
    return i18n.pick_locale(
        caller.session.locale if caller is not None else None,
        request.cookies.get(i18n.LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def render(
    request: Request,
    name: str,
    caller: AppCallerInfo | None,
    *,
    status_code: int = 200,
    locale: str | None = None,
    csp_extra: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``templates/<name>`` for the caller (None: a visitor, e.g. the login page)."""
    locale = locale if locale in i18n.LOCALES else request_locale(request, caller)
    assert locale is not None
    page = environment(locale).get_template(name)
    html = page.render(
        request=request,
        locale=locale,
        dir=i18n.direction(locale),
        csrf_token=caller.session.csrf_token if caller is not None else "",
        worker=caller.worker if caller is not None else None,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=security_headers(request, csp_extra))
