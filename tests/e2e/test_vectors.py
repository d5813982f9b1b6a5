"""The test client's signer reproduces every vector of tests/vectors/signature.json.

This proves the e2e signer right independently of the server."""
import base64
import json
import os
import unittest

import meetd_harness as h


def load_vectors():
    path = os.environ.get("MEETD_VECTORS")
    if not path:
        raise AssertionError("MEETD_VECTORS is not set (path of tests/vectors/signature.json)")
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    if not vectors:
        raise AssertionError("%s has no vectors" % path)
    return vectors


class SignatureVectors(unittest.TestCase):
    def test_every_vector(self):
        for i, v in enumerate(load_vectors()):
            with self.subTest(vector=i, uri=v["uri"]):
                sts = h.string_to_sign(v["method"], v["secret_id"], v["nonce"],
                                       v["timestamp"], v["uri"], v["body"])
                self.assertEqual(sts, v["string_to_sign"].encode("utf-8"))
                self.assertEqual(h.hmac_hex(v["secret_key"], sts), v["hmac_hex"])
                self.assertEqual(h.signature(v["secret_key"], v["method"], v["secret_id"],
                                             v["nonce"], v["timestamp"], v["uri"], v["body"]),
                                 v["signature"])

    def test_signature_is_base64_of_hex_not_of_raw_digest(self):
        v = load_vectors()[0]
        sig = h.signature(v["secret_key"], v["method"], v["secret_id"], v["nonce"],
                          v["timestamp"], v["uri"], v["body"])
        self.assertEqual(len(sig), 88)          # base64 of 64 hex chars, not of 32 bytes
        self.assertEqual(base64.b64decode(sig).decode("ascii"), v["hmac_hex"])

    def test_body_bytes_matter(self):
        # Same JSON, different key order (vectors 0 and 4): different signatures.
        vs = load_vectors()
        self.assertEqual(json.loads(vs[0]["body"]), json.loads(vs[4]["body"]))
        self.assertNotEqual(vs[0]["signature"], vs[4]["signature"])
        for v in (vs[0], vs[4]):
            self.assertEqual(h.signature(v["secret_key"], v["method"], v["secret_id"],
                                         v["nonce"], v["timestamp"], v["uri"], v["body"]),
                             v["signature"])


if __name__ == "__main__":
    unittest.main()
