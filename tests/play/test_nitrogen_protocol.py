"""NitroGen's server protocol against a test server that answers as serve.py does."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.errors import ConfigError, PolicyError
from nitrogen_capture.play.nitrogen_client import NitroGenClient
from nitrogen_capture.play.nitrogen_policy import NitroGenPolicy
from nitrogen_capture.play.policies import load_policy, parse_nitrogen_address
from nitrogen_capture.play.policy_base import PolicySettings
from nitrogen_server import NITROGEN_INFO, NitroGenServer, nitrogen_pred
from waiting import wait_until

FRAME = np.zeros((256, 256, 3), dtype=np.uint8)


def _client(server: NitroGenServer, timeout_s: float = 10.0) -> NitroGenClient:
    return NitroGenClient(server.host, server.port, timeout_s=timeout_s)


def test_info_reset_predict_and_the_wire_format() -> None:
    with NitroGenServer() as server, _client(server) as client:
        assert client.info() == NITROGEN_INFO
        client.reset()
        pred = client.predict(FRAME)
        assert set(pred) == {"j_left", "j_right", "buttons"}
        assert pred["buttons"].shape == (18, 21) and pred["j_left"].shape == (18, 2)
        # What serve.py reads: request["type"], and request["image"] as HxWx3 uint8 RGB.
        assert [r["type"] for r in server.requests] == ["info", "reset", "predict"]
        assert set(server.requests[2]) == {"type", "image"}
        image = server.requests[2]["image"]
        assert isinstance(image, np.ndarray) and image.shape == (256, 256, 3)
        assert image.dtype == np.uint8


def test_policy_maps_a_chunk_and_describes_the_server() -> None:
    pred = nitrogen_pred(18, buttons={18: 1.0}, j_left=(0.0, -1.0))  # SOUTH, stick up
    info = {**NITROGEN_INFO, "action_downsample_ratio": 2}
    with NitroGenServer(pred=pred, info=info) as server:
        policy = load_policy(PolicySettings(spec=server.address, timeout_s=10))
        try:
            assert isinstance(policy, NitroGenPolicy) and policy.frame_size == (256, 256)
            chunk = policy.act(FRAME)
            assert len(chunk.steps) == 18 and chunk.step_s == pytest.approx(2 / 60)
            assert all(step.keys == {"space", "w"} for step in chunk.steps)
            described = policy.describe()
            assert described["address"] == server.address and described["action_hz"] == 30
            assert described["info"]["ckpt_path"] == "/models/ng.pt"
            policy.reset()
            assert server.requests[-1] == {"type": "reset"}
        finally:
            policy.close()


def test_a_one_step_chunk_squeezed_by_the_server_still_reads() -> None:
    pred = {k: v[0] for k, v in nitrogen_pred(1, buttons={5: 1.0}).items()}  # (21,), (2,)
    with NitroGenServer(pred=pred) as server:
        policy = load_policy(PolicySettings(spec=server.address, output_kind="gamepad"))
        try:
            (step,) = policy.act(FRAME).steps
            assert step.pad is not None and step.pad[12] == 1.0  # EAST -> dataset "east"
        finally:
            policy.close()


def test_hostile_reply_is_refused_in_one_line_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with NitroGenServer() as server, _client(server) as client:
        server.set_mode("hostile", marker=marker)
        with pytest.raises(PolicyError) as err:
            client.predict(FRAME)
        assert str(err.value) == (f"refused a reply from {server.address}: it asks to build "
                                  "posix.system, which plain data never needs")
        assert not marker.exists()
        server.set_mode("normal")
        assert client.predict(FRAME)["buttons"].shape == (18, 21)  # the socket still works


def test_slow_server_times_out_and_the_next_request_works_once_it_answers() -> None:
    with NitroGenServer() as server, _client(server, timeout_s=0.3) as client:
        server.set_mode("slow", delay_s=60)
        with pytest.raises(PolicyError, match=r"did not answer the predict request within 0.3 s"):
            client.predict(FRAME)
        server.release()  # the late reply goes to the closed socket and is dropped
        wait_until(lambda: server.replied == 1, "the late reply sent")
        client.timeout_s = 10.0
        assert client.info() == NITROGEN_INFO


def test_dead_port_is_a_policy_error_within_the_timeout() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (NitroGenClient("127.0.0.1", port, timeout_s=0.2) as client,
          pytest.raises(PolicyError, match=rf"nitrogen://127\.0\.0\.1:{port} did not answer")):
        client.info()
    with pytest.raises(PolicyError, match="did not answer the info request"):
        load_policy(PolicySettings(spec=f"nitrogen://127.0.0.1:{port}", timeout_s=0.2))


def test_error_status_and_garbage_are_one_line_each() -> None:
    with NitroGenServer() as server, _client(server) as client:
        server.set_mode("error")
        with pytest.raises(PolicyError, match="status 'error': CUDA out of memory"):
            client.predict(FRAME)
        server.set_mode("garbage")
        with pytest.raises(PolicyError, match="not a readable pickle"):
            client.reset()


def test_bad_pred_shapes_are_refused() -> None:
    bad = {**nitrogen_pred(4), "buttons": np.zeros((4, 17), np.float32)}
    with NitroGenServer(pred=bad) as server:
        policy = load_policy(PolicySettings(spec=server.address))
        try:
            with pytest.raises(PolicyError, match=r"'buttons' of shape \(4, 17\)"):
                policy.act(FRAME)
        finally:
            policy.close()


@pytest.mark.parametrize("spec", ["nitrogen://host", "nitrogen://:5555", "nitrogen://h:0",
                                  "nitrogen://h:99999", "nitrogen://h:port"])
def test_bad_addresses_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError, match="nitrogen://HOST:PORT"):
        parse_nitrogen_address(spec)


def test_ipv6_address_parses() -> None:
    assert parse_nitrogen_address("nitrogen://[::1]:5555") == ("::1", 5555)

