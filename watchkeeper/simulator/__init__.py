"""Simulated IP cameras: deterministic synthetic H.264 footage served by a small pure-Python RTSP server.

Used by the test suite (real RTSP streams for the recorder) and by ``watchkeeper simulate`` / ``make demo``.
See :mod:`watchkeeper.simulator.rtsp_server` for the rig and :mod:`watchkeeper.simulator.footage` for the
footage; :mod:`watchkeeper.simulator.file_clips` turns real video files into camera loops and
:mod:`watchkeeper.simulator.demo` picks the demo's footage.
"""

from watchkeeper.simulator.cameras import run_forever, serve_simulated_cameras, simulated_clips
from watchkeeper.simulator.demo import PlazaView, plaza_clips, plaza_views
from watchkeeper.simulator.errors import SimulatorError
from watchkeeper.simulator.file_clips import clip_from_file
from watchkeeper.simulator.footage import AccessUnit, EncodedClip, FootageSpec, generate_clip, write_mp4
from watchkeeper.simulator.rtsp_server import Credentials, RtspServer

__all__ = [
    "AccessUnit",
    "Credentials",
    "EncodedClip",
    "FootageSpec",
    "PlazaView",
    "RtspServer",
    "SimulatorError",
    "clip_from_file",
    "generate_clip",
    "plaza_clips",
    "plaza_views",
    "run_forever",
    "serve_simulated_cameras",
    "simulated_clips",
    "write_mp4",
]
