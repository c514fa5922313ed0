"""Command bodies on a west build directory: ``generate -d`` and ``show -d``.

``generate -d`` replays the build step with the request CMake recorded, so it writes the
very files the build writes; ``show -d`` shows the build's factory data.
"""

from __future__ import annotations

from typing import Optional

from ..typed import Request


class GenerateInBuildRequest(Request):
    build_dir: str = ""  # "" finds the build directory as west build does
    verbose: bool = False


def generate_in_build(req: GenerateInBuildRequest, ui) -> int:
    from . import build_dir, step_request
    from .build_step import build_step

    build = build_dir.find_build_dir(req.build_dir or None, hint="give -d BUILD_DIR")
    app = build_dir.app_build_dir(build)
    step = step_request.recorded(app)
    if req.verbose:
        import shlex

        ui.info("build-step " + shlex.join(build_dir.step_arguments(app)))
    return build_step(step, ui)


def factory_data_hex_of(given_build_dir: Optional[str]) -> str:
    """The factory_data.hex of a build (sysbuild: the default image's), for ``show -d``."""
    from . import build_dir

    build = build_dir.find_build_dir(given_build_dir or None, hint="give -d BUILD_DIR or FILE")
    return str(build_dir.factory_data_hex(build_dir.app_build_dir(build), hint="give FILE"))
