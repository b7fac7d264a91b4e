"""The checkpoint file: atomic writes, weights-only reads, and one clear CheckpointError per bad file."""
from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch

from statetrainer.checkpoint import io
from statetrainer.errors import CheckpointError


def _ckpt(value: float = 1.0) -> dict:
    return {"state_dict": {"w": torch.full((3,), value)}, "epoch": 2, "global_step": 7}


def test_round_trip_keeps_values(tmp_path):
    path = tmp_path / "a.ckpt"
    io.save(_ckpt(2.5), path)
    loaded = io.load(path)
    assert loaded["epoch"] == 2 and loaded["global_step"] == 7
    assert torch.equal(loaded["state_dict"]["w"], torch.full((3,), 2.5))
    assert os.listdir(tmp_path) == ["a.ckpt"]  # no temporary left behind


def test_save_creates_missing_folders(tmp_path):
    path = tmp_path / "deep" / "er" / "x.ckpt"
    io.save(_ckpt(), path)
    assert path.is_file()


def test_failed_write_keeps_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io.save(_ckpt(1.0), path)
    real_save = torch.save

    def dies_half_way(obj, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt  # what a Ctrl-C mid-write looks like

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save(_ckpt(9.0), path)
    monkeypatch.setattr(torch, "save", real_save)
    assert os.listdir(tmp_path) == ["last.ckpt"]
    assert torch.equal(io.load(path)["state_dict"]["w"], torch.full((3,), 1.0))


def test_write_goes_through_a_temporary_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    io.save(_ckpt(), tmp_path / "m.ckpt")
    (folder, name, dst), = seen
    assert folder == str(tmp_path) and dst == str(tmp_path / "m.ckpt")
    assert name.startswith(f".m.ckpt.{os.getpid()}.") and name.endswith(".tmp")


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / ".last.ckpt.999999999.abc123.tmp"
    mine = tmp_path / f".last.ckpt.{os.getpid()}.abc123.tmp"
    other = tmp_path / "notes.tmp"
    for file in (dead, mine, other):
        file.write_bytes(b"x")
    assert io.remove_stale_temporaries(tmp_path) == [str(dead)]
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, other.name])


def test_non_plain_content_is_written_in_its_recorded_form_and_read_back(tmp_path):
    import numpy as np
    path = tmp_path / "x.ckpt"
    io.save({"state_dict": {}, "loops": {"rng": np.arange(3, dtype=np.uint8)}}, path)
    raw = torch.load(path, weights_only=True)  # what is on disk: plain data only
    assert raw["loops"]["rng"]["__statetrainer__"] == "ndarray"
    loaded = io.load(path)["loops"]["rng"]
    assert type(loaded) is np.ndarray and loaded.dtype == np.uint8 and loaded.tolist() == [0, 1, 2]


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty (0 bytes)"),
    (b"hello, I am a text file\n", "is not a PyTorch checkpoint file (it begins with b'hello, I', not a zip header)"),
    (pickle.dumps({"state_dict": {}}), "is not a PyTorch checkpoint file"),
])
def test_unreadable_files_are_named_with_the_reason(tmp_path, content, expected):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        io.load(path)
    assert f"checkpoint {str(path)!r} {expected}" in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        io.load(tmp_path / "nope.ckpt")
    with pytest.raises(CheckpointError, match="is a folder, not a file"):
        io.load(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file_is_reported_as_truncated(tmp_path, keep):
    path = tmp_path / "t.ckpt"
    io.save(_ckpt(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as info:
        io.load(path)
    assert f"checkpoint {str(path)!r} is truncated or corrupt" in str(info.value)


def test_a_torch_file_that_is_not_a_checkpoint_is_foreign(tmp_path):
    tensor_file, dict_file = tmp_path / "t.pt", tmp_path / "d.pt"
    torch.save(torch.zeros(2), tensor_file)
    torch.save({"weights": torch.zeros(2)}, dict_file)
    with pytest.raises(CheckpointError, match=r"holds a Tensor, not a checkpoint dict"):
        io.load(tensor_file)
    with pytest.raises(CheckpointError, match=r"has no 'state_dict' entry \(keys: \['weights'\]\)"):
        io.load(dict_file)


def test_legacy_torch_format_still_loads(tmp_path):
    path = tmp_path / "old.ckpt"
    torch.save(_ckpt(3.0), path, _use_new_zipfile_serialization=False)
    assert torch.equal(io.load(path)["state_dict"]["w"], torch.full((3,), 3.0))


def test_map_location_is_applied(tmp_path):
    path = tmp_path / "m.ckpt"
    io.save(_ckpt(), path)
    loaded = io.load(path, map_location=lambda storage, location: storage)
    assert loaded["state_dict"]["w"].device.type == "cpu"


# ---------------------------------------------------------------- the malicious pickle


class _Payload:
    """Unpickling this calls os.mkdir(marker): proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _malicious_zip(path, marker):
    torch.save({"state_dict": {}, "hyper_parameters": {"x": _Payload(marker)}}, path)


def _malicious_raw_pickle(path, marker):
    with open(path, "wb") as stream:
        pickle.dump({"state_dict": _Payload(marker)}, stream, protocol=2)


@pytest.mark.parametrize("make", [_malicious_zip, _malicious_raw_pickle])
def test_malicious_pickle_is_refused_and_its_payload_never_runs(tmp_path, make):
    marker, path = tmp_path / "pwned", tmp_path / "evil.ckpt"
    make(path, str(marker))
    with pytest.raises(CheckpointError) as info:
        io.load(path)
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message
    if make is _malicious_zip:
        assert "needs arbitrary unpickling (it names 'posix.mkdir'), which is refused" in message
        assert "weights_only=False only if you trust" in message
    else:
        assert "is not a PyTorch checkpoint file" in message


def test_the_payload_is_real_it_runs_with_the_explicit_unsafe_opt_in(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.ckpt"
    _malicious_zip(path, str(marker))
    io.load(path, weights_only=False)
    assert marker.is_dir()


def test_zip_with_a_damaged_member_is_corrupt(tmp_path):
    path, bad = tmp_path / "ok.ckpt", tmp_path / "bad.ckpt"
    io.save(_ckpt(), path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, b"garbage!" * 4 if item.filename.endswith("data.pkl") else data)
    with pytest.raises(CheckpointError) as info:
        io.load(bad)
    assert str(info.value) == f"checkpoint {str(bad)!r} is corrupt (Unsupported operand 103)."


def test_file_permissions_follow_the_umask_like_a_plain_open(tmp_path):
    io.save(_ckpt(), tmp_path / "p.ckpt")
    with open(tmp_path / "plain", "wb"):
        pass
    assert os.stat(tmp_path / "p.ckpt").st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777


@pytest.fixture
def served(tmp_path):
    """(folder, base URL) of a local HTTP server that serves `folder`."""
    import functools
    import http.server
    import threading
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_downloaded_into_torch_hubs_cache_and_read(served, tmp_path, monkeypatch):
    folder, base = served
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    io.save(_ckpt(4.0), folder / "remote.ckpt")
    loaded = io.load(f"{base}/remote.ckpt")
    assert torch.equal(loaded["state_dict"]["w"], torch.full((3,), 4.0))
    assert (tmp_path / "home" / "hub" / "checkpoints" / "remote.ckpt").is_file()
    with pytest.raises(CheckpointError, match=r"checkpoint URL '.*/absent.ckpt' could not be downloaded: "):
        io.load(f"{base}/absent.ckpt")
