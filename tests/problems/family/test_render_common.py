"""What holds for every family renderer: it renders each hand-built case of the case modules
(here, whatever toolchains this machine has; each PL's test file runs them where it can)."""

import pytest

from tests.problems.family import rust_cpp_cases, typed_cases, web_render_cases
from tests.problems.family.render_helpers import render_in
from xpl.problems.family.render import rendered_languages

CASES = [fn for module in (typed_cases, web_render_cases, rust_cpp_cases) for fn, _ in module.CASES]



@pytest.mark.parametrize("language", rendered_languages())
def test_every_hand_built_case_renders(language):
    for fn in CASES:
        assert render_in(language, fn).endswith("\n"), fn.name
