"""meetctl over https: certificate verification and signing through TLS.

meetd itself serves plain HTTP (TLS is a proxy's job in front of it), so the
server here is a small local https endpoint standing in for a TLS-terminating
gateway or the Tencent cloud: it checks each request's signature with the
test suite's own signer and answers like the API does."""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import unittest

import meetd_harness as h
from test_meetctl import ctl_env, run_ctl

CREDS = {"MEETD_APP_ID": "200000001", "MEETD_SDK_ID": "",
         "MEETD_SECRET_ID": "AKIDtlsTestKey000000000000000000000",
         "MEETD_SECRET_KEY": "tlsTestSecret0000000000000000000"}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-TC-Trace", "tls-trace")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, {"status": "ok"})
        expected = h.signature(CREDS["MEETD_SECRET_KEY"], "GET", self.headers["X-TC-Key"],
                               self.headers["X-TC-Nonce"], self.headers["X-TC-Timestamp"],
                               self.path, b"")
        self.server.seen.append(dict(self.headers))
        if self.headers["X-TC-Signature"] != expected or self.headers["AppId"] != CREDS["MEETD_APP_ID"]:
            return self.answer(401, {"error_info": {"error_code": 200003,
                                                    "new_error_code": 200200003,
                                                    "message": "Signature failed"}})
        return self.answer(200, {"meeting_number": 0, "meeting_info_list": []})


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="meetctl-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cls.cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=h.DEADLINE)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cls.cert, key)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        cls.httpd.seen = []
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = "https://127.0.0.1:%d" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        cls.thread.join(h.DEADLINE)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_unknown_certificate_is_refused(self):
        cp = run_ctl(["--endpoint", self.url, "health"], ctl_env(CREDS))
        self.assertEqual(cp.returncode, 1, cp)
        self.assertEqual(cp.stdout, "")

    def test_trusted_certificate_and_signed_request(self):
        cp = run_ctl(["--endpoint", self.url, "--cacert", self.cert, "health"], ctl_env(CREDS))
        self.assertEqual((cp.returncode, cp.stdout), (0, "ok\n"), cp)
        before = len(self.httpd.seen)
        cp = run_ctl(["--endpoint", self.url, "--cacert", self.cert, "--json",
                      "meeting", "get", "7567173273889276131", "--userid", "alice"],
                     ctl_env(CREDS))
        self.assertEqual(cp.returncode, 0, cp)
        self.assertEqual(json.loads(cp.stdout)["meeting_number"], 0)
        [headers] = self.httpd.seen[before:]
        self.assertEqual(headers.get("X-TC-Registered"), "1")
        self.assertNotIn("SdkId", headers)   # the app has none: not sent

    def test_wrong_key_over_tls_is_an_api_error(self):
        creds = dict(CREDS, MEETD_SECRET_KEY="not-the-key-000000000000000000000")
        cp = run_ctl(["--endpoint", self.url, "--cacert", self.cert,
                      "meeting", "get", "7567173273889276131", "--userid", "alice"],
                     ctl_env(creds))
        self.assertEqual(cp.returncode, 1, cp)
        self.assertIn("200003", cp.stderr)


if __name__ == "__main__":
    unittest.main()
