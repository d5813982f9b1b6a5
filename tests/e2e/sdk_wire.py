"""Requests as Tencent's official SDK puts them on the wire, and the JSON
types its models declare for the answers: one copy, for the
test_fidelity_* modules (see README.md, "SDK fidelity").

How the SDK sends a request:
- a body is its request model serialised: the attributes in declaration
  order, which is alphabetical (at every depth: a nested model is
  serialised the same way), the unset ones (None) left out, compact
  separators, non-ASCII as UTF-8 as is;
- query parameters in the order the SDK appends them for that API, every
  value a string;
- Content-Type on every request, a GET's too, the SdkId header even when
  the app has none (then empty), and the SDK's User-Agent.

How its models read an answer: a field typed `str` that holds a number
(ids, times, codes) is a JSON string of digits; one typed `int` is a JSON
integer, never a string and never a bool.
"""
import json
import urllib.parse

USER_AGENT = "wemeet-openapi-sdk-python"
CONTENT_TYPE = "application/json"
# The spelling the SDK's POSTs with a body of non-ASCII text may carry.
CONTENT_TYPE_UTF8 = "application/json; charset=utf-8"


def model(v):
    """A model's attributes, in order (alphabetical), unset ones left out, at
    every depth: what the SDK's serialiser hands to json."""
    if isinstance(v, dict):
        return {k: model(v[k]) for k in sorted(v) if v[k] is not None}
    if isinstance(v, list):
        return [model(i) for i in v]
    return v


def body(fields):
    """The bytes of a body: fields is a dict, or (key, value) pairs."""
    return json.dumps(model(dict(fields)), separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def uri(path, params=None, order=()):
    """path plus a query string. params is a list of (name, value) pairs sent
    as given, or a dict sent in `order` (the SDK's order for that API);
    None values are left out, the others sent as strings."""
    if not params:
        return path
    if isinstance(params, dict):
        unknown = set(params) - set(order)
        assert not unknown, "not in the SDK's order: %r" % sorted(unknown)
        params = [(k, params[k]) for k in order if k in params]
    pairs = [(k, str(v)) for k, v in params if v is not None]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


def headers(client, content_type=CONTENT_TYPE):
    return {"Content-Type": content_type, "SdkId": client.sdk_id, "User-Agent": USER_AGENT}


def send(client, method, path, fields=None, params=None, order=(), content_type=CONTENT_TYPE):
    """One request as the SDK sends it. fields: the body's model (a dict or
    pairs), or bytes sent as they are (a body the SDK could not build)."""
    data = None if fields is None else fields if isinstance(fields, bytes) else body(fields)
    return client.request(method, uri(path, params, order), data,
                          headers=headers(client, content_type), content_type=None)


class TypeChecks:
    """Mixed into a unittest.TestCase: obj[key] as the SDK's model types it."""

    def assert_int(self, obj, key):
        self.assertIn(key, obj)
        self.assertIs(type(obj[key]), int, "%s must be a JSON integer: %r" % (key, obj[key]))

    def assert_digits(self, obj, key, n=None):
        self.assertIn(key, obj)
        self.assertIsInstance(obj[key], str, "%s must be a string of digits: %r"
                              % (key, obj[key]))
        self.assertRegex(obj[key], r"^[0-9]{%s}$" % (n if n else "1,19"), key)

    def assert_str(self, obj, key):
        self.assertIn(key, obj)
        self.assertIsInstance(obj[key], str, key)
