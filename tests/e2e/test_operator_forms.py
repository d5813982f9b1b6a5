"""Who asks, named the same way everywhere (docs/api.md "Operator forms").

Every endpoint that takes an operator reads it with one parser per carrier
(query string, JSON body) and differs only in the forms it accepts. So a
malformed operator gets the same 190004 and the same message from each of
them, and changes nothing; a form an endpoint does not take is refused
with the forms it does take.
"""
import unittest

import meetd_harness as h
import sdk_wire


class OperatorFormsTest(h.MeetdCase):
    def endpoints(self, mid):
        """(name, carrier, send(operator fields)) for every endpoint with an operator."""
        c = self.client

        def get(path):
            return lambda op: sdk_wire.send(c, "GET", path,
                                            params=list(op.items()) + [("instanceid", "1"),
                                                                       ("page", "1")])

        def body(method, path, **rest):
            return lambda op: sdk_wire.send(c, method, path, dict(rest, **op))

        user = {"to_operator_id": "ms-x", "to_operator_id_type": 4, "instanceid": 1}
        return [
            ("query", "query", get("/v1/meetings/%s" % mid)),
            ("participants", "query", get("/v1/meetings/%s/participants" % mid)),
            ("real-time", "query", get("/v1/meetings/%s/real_time_participants" % mid)),
            ("cancel", "body", body("POST", "/v1/meetings/%s/cancel" % mid, instanceid=1,
                                    reason_code=1)),
            ("dismiss", "body", body("POST", "/v1/meetings/%s/dismiss" % mid, instanceid=1,
                                     reason_code=1)),
            ("modify", "body", body("PUT", "/v1/meetings/%s" % mid, instanceid=1,
                                    subject="never")),
            ("kickout", "body", body("PUT", "/v1/real-control/meetings/%s/kickout" % mid,
                                     instanceid=1, allow_rejoin=True, users=[user])),
            ("cohosts", "body", body("PUT", "/v1/real-control/meetings/%s/cohosts" % mid,
                                     instanceid=1, action=True, user=user)),
        ]

    def same_everywhere(self, op, carriers=("query", "body"), prefix=None):
        mid = self.new_meeting("alice")
        self.join(mid, "alice", 1)
        before = self.state(mid)
        messages = {}
        for name, carrier, send in self.endpoints(mid):
            if carrier not in carriers:
                continue
            with self.subTest(endpoint=name, op=op):
                info = self.assert_error(send(op), 400, 190004)
                messages[name] = info["message"]
        self.assert_unchanged(before, mid)
        if prefix is None:
            self.assertEqual(len(set(messages.values())), 1, messages)
        else:
            for name, msg in messages.items():
                self.assertTrue(msg.startswith(prefix), (name, msg))

    def test_operator_id_without_its_type(self):
        self.same_everywhere({"operator_id": "alice"})

    def test_openid_is_oauth_only(self):
        self.same_everywhere({"operator_id": "alice", "operator_id_type": 2})

    def test_unknown_type(self):
        self.same_everywhere({"operator_id": "alice", "operator_id_type": 7},
                             prefix="unknown operator_id_type 7: give 1 (userid)")

    def test_type_without_operator_id_in_a_body(self):
        self.same_everywhere({"operator_id_type": 1, "userid": "alice", "uuid": "u"},
                             carriers=("body",))

    def test_a_form_not_taken_names_the_ones_that_are(self):
        mid = self.new_meeting("alice")
        by_name = {name: send for name, _, send in self.endpoints(mid)}
        ms = {"operator_id": "ms-x", "operator_id_type": 4}
        rooms = {"operator_id": "ms-x", "operator_id_type": 3}
        for name, op, want in [
                ("participants", ms, "give 1 (userid) or 3 (rooms_id)"),
                ("real-time", ms, "give 1 (userid) or 3 (rooms_id)"),
                ("modify", ms, "give 1 (userid)"),
                ("query", ms, "give 1 (userid) or 3 (rooms_id)"),
                ("kickout", rooms, "give 1 (userid) or 4 (ms_open_id)"),
                ("cancel", rooms, "give 1 (userid) or 4 (ms_open_id)")]:
            with self.subTest(endpoint=name):
                info = self.assert_error(by_name[name](op), 400, 190004)
                self.assertTrue(info["message"].endswith("is not taken here: " + want),
                                info["message"])


if __name__ == "__main__":
    unittest.main()
