"""Command-line errors of the video programs: clear messages, exit status 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest
from kasugai_functions.video import inference, sender, wrapper


def run(main: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)  # type: ignore[operator]
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to", "receiver.local"], "--to: 'receiver.local' is not an IP address"),
        (["--to", "10.0.0.1;reboot"], "is not an IP address"),
        (["--to", "10.0.0.1", "--to-port", "70000"], "--to-port: '70000' is not a port"),
        (["--to", "10.0.0.1", "--listen", "any"], "--listen: 'any' is not an IP address"),
        (["--to", "10.0.0.1", "--width", "641"], "positive even numbers"),
    ],
)
def test_inference_rejects_bad_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(inference.main, argv, capsys)
    assert code == 2
    assert message in err


def test_sender_rejects_a_host_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    code, err = run(sender.main, [str(clip), "--to", "pip.example"], capsys)
    assert code == 2
    assert "--to: 'pip.example' is not an IP address" in err


def test_sender_rejects_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(sender.main, [str(tmp_path / "none.mp4"), "--to", "127.0.0.1"], capsys)
    assert code == 2
    assert "none.mp4: no such file" in err


def test_wrapper_rejects_an_unknown_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(wrapper.main, ["--install-template", "gpu"], capsys)
    assert code == 2
    assert "relay" in err and "receiver" in err
