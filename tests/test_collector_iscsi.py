"""iscsi collector: targets, per-target session counts (0 included), sessions."""

from __future__ import annotations

from tests.collector_helpers import fixture, run, series, value


def test_san_targets() -> None:
    san = run("iscsi", fixture("iscsi_san"))
    assert value(san, "qsan_iscsi_target_info", controller="0", target="0",
                 name="iqn.2004-08.com.qsan:xs5216-000124750:dev0.ctr1", alias="123",
                 auth="CHAP", port="3260") == 1
    assert value(san, "qsan_iscsi_target_free_luns", controller="0", target="0") == 4
    assert value(san, "qsan_iscsi_target_free_luns", controller="0", target="1") == 0
    assert value(san, "qsan_iscsi_target_portals", controller="0", target="0") == 2
    assert value(san, "qsan_iscsi_target_portals", controller="1", target="2") == 0


def test_san_session_counts_include_zero_and_match_by_target_id() -> None:
    san = run("iscsi", fixture("iscsi_san"))
    assert series(san, "qsan_iscsi_sessions") == {
        (("controller", "0"), ("target", "0")): 2,  # targetID "0" and 0 alike
        (("controller", "0"), ("target", "1")): 0,
        (("controller", "1"), ("target", "2")): 1,
    }


def test_san_session_names_prefer_id_then_tsih() -> None:
    san = run("iscsi", fixture("iscsi_san"))
    assert series(san, "qsan_iscsi_session_info") == {
        (("client_ip", ""), ("client_name", ""), ("controller", "0"),
         ("initiator", "iqn.1998-01.com.vmware:esx01"), ("session", "101"), ("target", "0")): 1,
        (("client_ip", ""), ("client_name", ""), ("controller", "0"),
         ("initiator", "iqn.1998-01.com.vmware:esx02"), ("session", "16386"),
         ("target", "0")): 1,
        (("client_ip", ""), ("client_name", ""), ("controller", "1"),
         ("initiator", "iqn.1998-01.com.vmware:esx03"), ("session", "201"), ("target", "2")): 1,
    }  # the "garbage" session entry is skipped


def test_nas_sessions_match_by_target_name_and_are_named_by_client() -> None:
    nas = run("iscsi", fixture("iscsi_nas"), product="nas")
    assert series(nas, "qsan_iscsi_sessions") == {
        (("controller", "0"), ("target", "0")): 0,
        (("controller", "0"), ("target", "1")): 2,
    }
    assert value(nas, "qsan_iscsi_session_info", controller="0", session="10.10.1.11:51001",
                 initiator="iqn.1991-05.com.microsoft:win01", target="1",
                 client_ip="10.10.1.11", client_name="win01") == 1
    assert value(nas, "qsan_iscsi_session_info", controller="0", session="10.10.1.12:51002",
                 initiator="iqn.1991-05.com.microsoft:win02", target="1",
                 client_ip="10.10.1.12", client_name="win02") == 1
    assert series(nas, "qsan_iscsi_session_login_timestamp_seconds") == {
        (("controller", "0"), ("session", "10.10.1.11:51001")): 1700000000,
        (("controller", "0"), ("session", "10.10.1.12:51002")): 1700000000,
    }


def test_session_on_another_controller_number_is_still_counted_once() -> None:
    body = {"targets": {"iscsi": [{"ctrlID": 0, "targets": [{"id": 4, "name": "t4"}]}]},
            "sessions": {"iscsi": [{"ctrlID": 9, "sessions": [
                {"id": "1", "initiatorName": "i", "targetID": "4"},
                {"id": "2", "initiatorName": "j", "targetID": "77"}]}]}}
    samples = run("iscsi", body)
    assert series(samples, "qsan_iscsi_sessions") == {(("controller", "0"), ("target", "4")): 1}
    assert value(samples, "qsan_iscsi_session_info", controller="9", session="2",
                 initiator="j", target="77", client_ip="", client_name="") == 1


def test_connection_status_entries_of_the_session_list() -> None:
    body = {"targets": {"iscsi": []}, "sessions": {"iscsi": [{"ctrlID": 0, "status": [
        {"name": "LAN1", "status": "Up"}, {"name": "LAN2", "status": " Link  Down "},
        {"port": 7, "state": "Negotiating"}, {"status": "Disconnected"}, "junk"],
        "sessions": None}]}}
    samples = run("iscsi", body)
    assert series(samples, "qsan_iscsi_connection_health") == {
        (("connection", "LAN1"), ("controller", "0")): 0,
        (("connection", "LAN2"), ("controller", "0")): 2,
        (("connection", "7"), ("controller", "0")): 1,  # unrecognised: a warning
        (("connection", "3"), ("controller", "0")): 2,  # no name: its position
    }
    assert value(samples, "qsan_iscsi_connection_info", controller="0", connection="LAN2",
                 status="Link  Down") == 1
