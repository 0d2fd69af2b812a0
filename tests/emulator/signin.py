"""The interactive legs of Entra ID: the sign-in and consent pages.

``GET /{tenant}/oauth2[/v2.0]/authorize`` and ``GET /{tenant}[/v2.0]/
adminconsent`` check the request and answer a small HTML sign-in form (no
JavaScript).  A browser -- in the tests a scripted one (browser.py) -- posts
the form to ``POST /{tenant}/login``; when consent is needed the answer is a
consent form posted to ``POST /{tenant}/consent``; the end is a ``302`` to
the redirect URI with ``code`` (or ``admin_consent=True``) or with
``error``.  Errors Entra ID shows on its own page instead of redirecting
(unknown tenant or app, unregistered redirect URI, an account of another
tenant, a wrong password) are HTML pages with the AADSTS code in the text.
"""

import html
import secrets
import threading
import time
import uuid

from tokens import TokenError, _add_query

SESSION_LIFETIME = 900  # seconds a sign-in page stays valid


class SignIn:
    """Sign-in sessions (one per page shown) of all tenants."""

    def __init__(self, tokens, stats):
        self.tokens = tokens
        self.stats = stats
        self.lock = threading.Lock()
        self.sessions = {}  # ctx -> dict

    # -- pages --------------------------------------------------------
    @staticmethod
    def _page(status, title, body):
        text = ("<!doctype html><html><head><meta charset=\"utf-8\">"
                "<title>%s</title></head><body><h1>%s</h1>%s</body></html>"
                % (html.escape(title), html.escape(title), body))
        return status, {"Content-Type": "text/html; charset=utf-8"}, \
            text.encode("utf-8")

    def _error_page(self, code, **fmt):
        err = TokenError(code, **fmt)
        return self._page(400, "Sign in", "<p id=\"error\">AADSTS%d: %s</p>"
                          "<p>Trace ID: %s</p>" % (
                              code, html.escape(err.text), uuid.uuid4()))

    def _form(self, segment, action, ctx, title, fields, buttons, note=""):
        inputs = "".join(
            "<label>%s <input name=\"%s\" type=\"%s\" value=\"%s\"></label>"
            % (html.escape(label), name, kind, html.escape(value))
            for label, name, kind, value in fields)
        knobs = "".join(
            "<button type=\"submit\" name=\"action\" value=\"%s\">%s</button>"
            % (value, html.escape(label)) for value, label in buttons)
        return self._page(200, title, "%s<form method=\"post\" action=\"/%s/%s"
                          "\"><input type=\"hidden\" name=\"ctx\" value=\"%s\">"
                          "%s%s</form>" % (note, html.escape(segment), action,
                                           ctx, inputs, knobs))

    def _signin_form(self, segment, ctx, login="", note=""):
        return self._form(segment, "login", ctx, "Sign in",
                          [("Email", "login", "text", login),
                           ("Password", "passwd", "password", "")],
                          [("signin", "Sign in"), ("cancel", "Cancel")], note)

    def _redirect(self, session, query):
        if session.get("state") is not None:
            query["state"] = session["state"]
        return 302, {"Location": _add_query(session["redirect_uri"], query)}, \
            None

    # -- GET authorize / adminconsent ---------------------------------
    def start(self, segment, v2, params, admin_consent):
        """Check the request; answer the sign-in page or an error page."""
        self.stats.request("authorize", "-")
        client_id = params.get("client_id", "")
        tenant = self.tokens.find_tenant(segment)
        common = segment.lower() in ("common", "organizations")
        app_tenant = tenant or (self.tokens.by_client.get(client_id)
                                if common else None)
        if tenant is None and not common:
            return self._error_page(90002, tenant=segment)
        if app_tenant is None or client_id != app_tenant.client_id:
            return self._error_page(700016, client_id=client_id,
                                    tenant=segment)
        redirect = params.get("redirect_uri")
        if not redirect and not v2:
            # v1 without redirect_uri (the consent link of the Defender docs):
            # one of the app's reply URLs
            redirect = (app_tenant.redirect_uris or ["http://localhost/"])[0]
        if not redirect:
            return self._error_page(900144, param="redirect_uri")
        if not app_tenant.redirect_registered(redirect):
            return self._error_page(50011, detail=redirect,
                                    client_id=client_id)
        session = {"segment": segment, "tenant": tenant, "v2": v2,
                   "admin_consent": admin_consent, "client_id": client_id,
                   "redirect_uri": redirect, "state": params.get("state"),
                   "prompt": params.get("prompt"),
                   "resource": None if v2 else params.get("resource"),
                   "scope": params.get("scope"),
                   "challenge": params.get("code_challenge"),
                   "method": params.get("code_challenge_method"),
                   "expires": time.time() + SESSION_LIFETIME,
                   "user": None}
        if not admin_consent and "code" not in params.get(
                "response_type", "").split():
            return self._redirect(session, {
                "error": "unsupported_response_type",
                "error_description": "AADSTS70005: response_type must "
                                     "include 'code'."})
        if session["method"] not in (None, "S256", "plain") or (
                session["method"] and not session["challenge"]):
            return self._redirect(session, {
                "error": "invalid_request",
                "error_description": "AADSTS501491: Invalid size of "
                                     "Code_Challenge parameter."})
        ctx = secrets.token_urlsafe(24)
        with self.lock:
            now = time.time()
            for key in [k for k, v in self.sessions.items()
                        if v["expires"] < now]:
                del self.sessions[key]
            self.sessions[ctx] = session
        return self._signin_form(segment, ctx, params.get("login_hint", ""))

    def _session(self, form):
        with self.lock:
            session = self.sessions.get(form.get("ctx", ""))
        if session is None or session["expires"] < time.time():
            return None
        return session

    # -- POST login ---------------------------------------------------
    def login(self, segment, form):
        """The sign-in form was posted."""
        self.stats.request("authorize", "-")
        session = self._session(form)
        if session is None:
            return self._error_page(50089)
        ctx = form["ctx"]
        if form.get("action") == "cancel":
            self._drop(ctx)
            return self._redirect(session, {
                "error": "access_denied",
                "error_description": "the user canceled the authentication"})
        login = form.get("login", "").strip().lower()
        user_tenant = next((t for t in self.tokens.tenants
                            if t.user.lower() == login), None)
        if user_tenant is None:
            return self._signin_form(segment, ctx, login, self._note(
                50034, "This username may be incorrect."))
        if form.get("passwd", "") != user_tenant.user_password:
            return self._signin_form(segment, ctx, login, self._note(
                50126, "Your account or password is incorrect."))
        tenant = session["tenant"] or user_tenant
        if user_tenant is not tenant:
            self._drop(ctx)
            return self._error_page(50020, detail=login,
                                    tenant=tenant.tenant_id)
        session["tenant"] = tenant
        session["user"] = login
        needs_consent = not tenant.consent or session["admin_consent"] or \
            session["prompt"] in ("consent", "admin_consent")
        if needs_consent:
            return self._form(
                segment, "consent", ctx, "Permissions requested",
                [], [("accept", "Accept"), ("decline", "Cancel")],
                "<p>Application %s asks for the permissions of its app "
                "registration, for the whole organization %s.</p>" % (
                    html.escape(session["client_id"]),
                    html.escape(tenant.domain)))
        return self._finish(ctx, session)

    @staticmethod
    def _note(code, text):
        return "<p id=\"error\">AADSTS%d: %s</p>" % (code, html.escape(text))

    def _drop(self, ctx):
        with self.lock:
            self.sessions.pop(ctx, None)

    # -- POST consent -------------------------------------------------
    def consent(self, segment, form):
        """The consent form was posted."""
        self.stats.request("authorize", "-")
        session = self._session(form)
        if session is None or session["user"] is None:
            return self._error_page(50089)
        ctx = form["ctx"]
        if form.get("action") != "accept":
            self._drop(ctx)
            query = {"error": "consent_required" if session["admin_consent"]
                     else "access_denied",
                     "error_description": "AADSTS65004: User declined to "
                                          "consent to access the app."}
            if session["admin_consent"]:
                query["admin_consent"] = "True"
            return self._redirect(session, query)
        session["tenant"].consent = True
        return self._finish(ctx, session)

    def _finish(self, ctx, session):
        self._drop(ctx)
        tenant = session["tenant"]
        if session["admin_consent"]:
            return self._redirect(session, {
                "admin_consent": "True", "tenant": tenant.tenant_id,
                "scope": session["scope"] or ""})
        query = {"code": self.tokens.issue_code(
            tenant, session["redirect_uri"], session["resource"],
            session["scope"], session["challenge"], session["method"])}
        if not session["v2"]:
            query["session_state"] = str(uuid.uuid4())
        return self._redirect(session, query)
