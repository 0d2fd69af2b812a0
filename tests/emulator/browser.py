"""A scripted browser for the emulator's sign-in pages (signin.py).

It opens an authorize (or adminconsent) URL, fills in the sign-in form,
answers the consent form, and follows the final redirect to the redirect
URI -- to a real listener such as ``defender-forwarder authorize``'s on
127.0.0.1 -- the way a person with a browser would.  Python standard
library only.
"""

import html.parser
import http.client
import ssl
import urllib.parse


class _Form(html.parser.HTMLParser):
    """The first form of a page: its action, hidden fields, buttons, the
    text of an element with id="error"."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden = {}
        self.buttons = []
        self.error = ""
        self._in_error = False
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a.get("name")] = a.get("value", "")
        elif tag == "button":
            self.buttons.append(a.get("value"))
        if a.get("id") == "error":
            self._in_error = True

    def handle_endtag(self, tag):
        self._in_error = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_error:
            self.error += data


class Result:
    """Where the sign-in ended."""

    def __init__(self, status, location=None, page=None, error=""):
        self.status = status  # HTTP status of the last emulator answer
        self.location = location  # the redirect URI with its query, if any
        self.page = page  # text of the last page (error pages)
        self.error = error  # text of the page's error element
        self.followed = None  # (status, body) of the redirect URI's answer

    def query(self):
        """The redirect's query parameters."""
        if not self.location:
            return {}
        return dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.location).query))


class Browser:
    """Signs in on the emulator (https, its CA) like a user would."""

    def __init__(self, ca_file, timeout=30):
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.timeout = timeout

    def _request(self, method, url, body=None):
        u = urllib.parse.urlsplit(url)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port,
                                               context=self.ctx,
                                               timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port,
                                              timeout=self.timeout)
        headers = {"Accept": "text/html"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(body)
        try:
            conn.request(method, u.path + ("?" + u.query if u.query else ""),
                         body, headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Location"), \
                resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def sign_in(self, url, login, password, consent="accept", cancel=False,
                follow=True):
        """Open url, sign in as login/password (or press Cancel), answer
        the consent form with consent ("accept" or "decline"), and --
        with follow -- open the redirect URI it ends at."""
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
        status, location, page = self._request("GET", url)
        for _ in range(4):
            if status == 302:
                break
            form = _Form()
            form.feed(page)
            if status != 200 or form.action is None:
                return Result(status, page=page, error=form.error or page)
            fields = dict(form.hidden)
            if "signin" in form.buttons:
                if form.error and "AADSTS" in form.error:
                    return Result(status, page=page, error=form.error)
                fields.update(login=login, passwd=password,
                              action="cancel" if cancel else "signin")
            else:
                fields["action"] = consent
            status, location, page = self._request(
                "POST", urllib.parse.urljoin(origin, form.action), fields)
        result = Result(status, location=location)
        if follow and location:
            st, _, body = self._request("GET", location)
            result.followed = (st, body)
        return result


def main(argv=None):
    """`python3 browser.py --ca CA --login USER --password PASS URL`: sign in
    and print the address the browser ends at (the redirect with its code)."""
    import argparse
    import sys
    p = argparse.ArgumentParser(description="Sign in on the emulator's "
                                "pages like a person with a browser.")
    p.add_argument("--ca", required=True, help="the emulator's ca.pem")
    p.add_argument("--login", required=True, help="the user, e.g. "
                   "admin@contoso.onmicrosoft.com (see emulator.json)")
    p.add_argument("--password", required=True, help="the user's password")
    p.add_argument("--decline", action="store_true",
                   help="decline the consent form")
    p.add_argument("--cancel", action="store_true",
                   help="press Cancel on the sign-in form")
    p.add_argument("--no-follow", action="store_true",
                   help="do not open the redirect URI (as when nothing "
                        "listens there)")
    p.add_argument("url")
    args = p.parse_args(argv)
    res = Browser(args.ca).sign_in(
        args.url, args.login, args.password,
        consent="decline" if args.decline else "accept", cancel=args.cancel,
        follow=not args.no_follow)
    if res.location is None:
        sys.stderr.write("browser: no redirect (HTTP %d): %s\n" % (
            res.status, res.error.strip()[:500]))
        return 1
    print(res.location)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
