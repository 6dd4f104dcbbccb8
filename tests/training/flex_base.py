"""One tiny pretrained base model shared by the FLeX training tests (built once per session)."""

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.training.pretrain import pretrain


@cache
def flex_base() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="xpl-flex-base-"))
    atexit.register(shutil.rmtree, folder, True)
    pretrain(*tiny_problems(), tiny_pretrain_config(max_steps=4), folder / "base")
    return folder / "base" / "final"
