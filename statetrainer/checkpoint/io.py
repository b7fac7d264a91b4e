"""Reading and writing checkpoint files: atomic writes, weights-only reads, one clear error per failure.

``save(checkpoint, path)`` first puts the dict in its safe recorded form (``encoding.encode``: what is
not plain data becomes a plain record, so any content can be written), then writes a temporary file
in the destination folder, flushes and fsyncs it, renames it over ``path`` and fsyncs the folder: a
process killed at any moment leaves either the previous file or the new one, never a torn file.
``load(path)`` reads with ``torch.load(weights_only=True)`` and decodes the records
(``decoding.decode``: nothing named in the file is imported or called); every way a file can be
unusable becomes a ``CheckpointError`` that names the file and what is wrong with it.
"""
from __future__ import annotations

import os
import pickle
import re
import secrets
import warnings
from typing import Any

import torch

from statetrainer.checkpoint.decoding import decode
from statetrainer.checkpoint.encoding import encode
from statetrainer.checkpoint.plain import check_plain
from statetrainer.errors import CheckpointError

__all__ = ["save", "load", "remove_stale_temporaries", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"
_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")
# torch's pre-zip format begins with its magic number pickled (protocol 2); compared as bytes, never unpickled
_LEGACY_HEADER = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."
# save_hyperparameters already warned about what these hold; no second warning when a file is written
_WARNED_AT_CAPTURE = ("checkpoint['hyper_parameters']", "checkpoint['datamodule_hyper_parameters']")
_LISTED = 5  # places named in the warning before "and N more"
_URL_SCHEMES = ("http://", "https://")  # a checkpoint path that is downloaded first


def save(checkpoint: dict[str, Any], path: str | os.PathLike) -> None:
    """Write `checkpoint` in its recorded form to `path` atomically (temporary file, fsync, rename)."""
    checkpoint, described = encode(checkpoint, "checkpoint")
    _warn_described(described)
    check_plain(checkpoint, "checkpoint")  # the recorded form is plain by construction; this keeps it so
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp = _create_temporary(folder, os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        _discard(temp)
        raise
    _fsync_folder(folder)


def _create_temporary(folder: str, name: str) -> tuple[int, str]:
    """A new file `.<name>.<pid>.<random>.tmp` beside the target, created with the umask's permissions."""
    while True:
        temp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


def load(path: str | os.PathLike, map_location: Any = None, weights_only: bool = True) -> dict[str, Any]:
    """Read a checkpoint dict; `weights_only=False` is the explicit opt-in to arbitrary unpickling.

    An http(s) URL is downloaded once into torch hub's cache (``$TORCH_HOME/hub/checkpoints``) and read from there.
    """
    path = os.fspath(path)
    if path.startswith(_URL_SCHEMES):
        path = _downloaded(path)
    _check_file(path)
    try:
        loaded = torch.load(path, map_location=map_location or _available_device, weights_only=weights_only)
    except pickle.UnpicklingError as error:
        raise _unpickling_error(path, error, weights_only) from None
    except Exception as error:  # a damaged or foreign file makes the unpickler fail in many ways
        raise _read_error(path, error) from None
    if not isinstance(loaded, dict):
        raise CheckpointError(f"checkpoint {path!r} holds a {type(loaded).__name__}, not a checkpoint dict.")
    if "state_dict" not in loaded:
        raise CheckpointError(f"checkpoint {path!r} has no 'state_dict' entry (keys: {sorted(map(str, loaded))[:8]}); "
                              "it is not a statetrainer or Lightning checkpoint.")
    return decode(loaded, f"checkpoint {path!r}, entry ")


def _warn_described(described: list) -> None:
    """One warning naming the parts written as a description only (they load back as placeholders)."""
    places = [f"{place} ({placeholder.describe()})" for place, placeholder in described
              if not place.startswith(_WARNED_AT_CAPTURE)]
    if not places:
        return
    more = f" and {len(places) - _LISTED} more" if len(places) > _LISTED else ""
    warnings.warn(f"the checkpoint records {', '.join(places[:_LISTED])}{more} as a description only: reading the "
                  "file gives a statetrainer Placeholder there, not the object (nothing in a checkpoint is imported "
                  "or called when it is read).", UserWarning, stacklevel=3)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete temporary files that a killed writer left in `folder`; returns the removed paths."""
    folder = os.fspath(folder)
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        match = _TEMP_PATTERN.match(name)
        if match and not _process_alive(int(match.group("pid"))):
            _discard(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
    return removed


def _available_device(storage: Any, location: str) -> Any:
    """Default map_location: tensors saved on a device this machine lacks come back on the CPU."""
    if location.startswith("cuda") and not torch.cuda.is_available():
        return storage.cpu()
    if location.startswith("mps") and not torch.backends.mps.is_available():
        return storage.cpu()
    return None  # torch's default: the device the tensor was saved from


def _downloaded(url: str) -> str:
    """The cached local copy of the file at `url`, downloaded first when the cache lacks it."""
    from urllib.parse import urlparse
    name = os.path.basename(urlparse(url).path)
    if not name:
        raise CheckpointError(f"checkpoint URL {url!r} names no file (its path ends with '/').")
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    if not os.path.exists(target):
        try:
            torch.hub.download_url_to_file(url, target, progress=False)
        except OSError as error:
            raise CheckpointError(f"checkpoint URL {url!r} could not be downloaded: {error}") from None
    return target


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist.")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path!r} is a folder, not a file.")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path!r} is empty (0 bytes).")
    if not _is_zip(path) and not _is_legacy(path):
        raise CheckpointError(f"checkpoint {path!r} is not a PyTorch checkpoint file "
                              f"(it begins with {_head(path, 8)!r}, not a zip header).")


def _unpickling_error(path: str, error: Exception, weights_only: bool) -> CheckpointError:
    text = str(error)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if weights_only and (named or "Unsupported global" in text):
        what = f" (it names {named.group(1)!r})" if named else ""
        return CheckpointError(
            f"checkpoint {path!r} needs arbitrary unpickling{what}, which is refused: a statetrainer checkpoint holds "
            "only tensors and plain containers; pass weights_only=False only if you trust the file's origin.")
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    reason = _first_line(detail.group(1)) if detail else f"{type(error).__name__}: {_first_line(text)}"
    return CheckpointError(f"checkpoint {path!r} is corrupt ({reason}).")


def _read_error(path: str, error: Exception) -> CheckpointError:
    text = f"{type(error).__name__}: {_first_line(str(error))}"
    if "central directory" in text or "zip archive" in text or isinstance(error, EOFError):
        return CheckpointError(f"checkpoint {path!r} is truncated or corrupt ({text}).")
    return CheckpointError(f"checkpoint {path!r} is corrupt ({text}).")


def _is_zip(path: str) -> bool:
    return _head(path, 4) == b"PK\x03\x04"


def _is_legacy(path: str) -> bool:
    return _head(path, len(_LEGACY_HEADER)) == _LEGACY_HEADER


def _head(path: str, size: int) -> bytes:
    with open(path, "rb") as stream:
        return stream.read(size)


def _first_line(text: str) -> str:
    """The first sentence of an error text (torch's run to several paragraphs)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.split(". ")[0].rstrip(".")


def _discard(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms without directory descriptors
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
