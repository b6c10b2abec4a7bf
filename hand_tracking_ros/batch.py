"""``hand-tracking batch INPUT... --output DIR``: hands from many bags, videos and image folders, on Ray.

Each INPUT is a rosbag2 (a folder, sqlite3 or MCAP, or a single .mcap file), a video, an image folder, an
image, or a text file (``.txt``) that lists such inputs one a line (lines starting with ``#`` are comments;
relative paths are relative to the list). Every input gets one result in DIR, in exactly the format of the
single-process commands: a rosbag2 folder for a bag (``hand-tracking bag``), a JSON-lines file for anything
else (``hand-tracking track``). Result names are the input's name plus a hash of its absolute path
(``clip-1a2b3c4d.jsonl``), so inputs with the same name from different folders never collide.

The work runs on Ray: without ``--ray-address`` on a Ray instance started here (the embedded default,
one CPU per worker), with one on that cluster. Each worker is a Ray actor that loads the models once
and processes whole inputs, ``--streams-per-worker`` of them side by side: their frames go through one
tracker as separate streams, so one detector call and one landmark-model call serve the hand crops of
all of them (``SharedTracker``), which is what keeps a GPU busy. With ``--device cuda`` or ``tensorrt``
each worker asks Ray for ``1 / --workers-per-gpu`` of a GPU.

Nothing is lost and nothing is half-written:

- A worker writes each result under a temporary name in DIR (``.partial-...``); the driver renames it into
  place once complete and records it, so a result in DIR is never half-written.
- ``DIR/manifest.jsonl`` has one line per input (``MANIFEST_KEYS``), rewritten atomically as results come
  in; a rerun keeps one line per input.
- A rerun skips inputs that are done: "ok" with their result in DIR, or "failed" (unless
  ``--retry-failed``). An input whose worker died (a crash, a lost node) is tried once more, on the
  restarted worker, before it counts as failed. A result without a manifest line (the run was killed
  between the two) is redone.
- One bad input is "failed" in the manifest with a one-line error and never stops the others.
- Ctrl-C or SIGTERM stops the workers, keeps the results already complete, removes the temporary ones and
  leaves the manifest consistent; a killed run leaves temporary results that the next run removes before
  it starts. Only one run may write to DIR at a time (a lock file says so).

Ray is imported only by ``run`` (not when this module is imported), and only this module imports it:
``track``, ``bag`` and the node never need it (``pip install "hand_tracking_ros[scale]"``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from .backend import MAX_BATCH
from .cli import add_marker_depth_argument, add_tracker_arguments, tracker_from_arguments

LOGGER = logging.getLogger("hand_tracking_ros")

MANIFEST_NAME = "manifest.jsonl"
MANIFEST_KEYS = ("input", "output", "frames", "frames_with_hands", "skipped", "seconds", "status", "error")
LIST_SUFFIXES = (".txt",)
BAG_FILE_SUFFIX = ".mcap"  # a single MCAP file is a bag too (rosbags reads it without metadata.yaml)
PARTIAL_PREFIX = ".partial-"
LOCK_NAME = ".batch.lock"
GPU_DEVICES = ("cuda", "tensorrt")
DEFAULT_WORKERS_PER_GPU = 2     # one worker decodes and cuts crops while the other's batch is on the GPU
DEFAULT_GPU_STREAMS = 4         # inputs a GPU worker interleaves; one on the CPU, where batching gains nothing
MANIFEST_SAVE_INTERVAL = 1.0    # seconds: at most this much manifest is lost by a kill (those inputs are redone)
MAX_TRIES = 2                   # an input whose worker dies (a crash, a lost node) is tried once more
CONNECT_TIMEOUT = 5.0           # seconds to reach a --ray-address before giving up
STOP_TIMEOUT = 30.0             # seconds to wait for workers of a cluster to stop after Ctrl-C


class BatchError(RuntimeError):
    """The batch cannot start (no inputs, Ray missing, DIR in use...); the message says why."""


# --- Inputs and their results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One input and where its result goes (absolute paths)."""

    input: str
    kind: str       # "bag" or "frames"
    output: str


def expand_inputs(specs: list[str]) -> list[Path]:
    """Absolute paths of the inputs, list files replaced by the inputs they name, first occurrence kept."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(os.path.abspath(spec))
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise BatchError(f"cannot read the input list {path}: {error}") from error
            entries = (line.strip() for line in lines)
            paths += [Path(os.path.abspath(path.parent / entry)) for entry in entries
                      if entry and not entry.startswith("#")]
        else:
            paths.append(path)
    return list(dict.fromkeys(paths))


def input_kind(path: Path) -> str:
    """"bag" for a rosbag2 (a folder with metadata.yaml, or an .mcap file), else "frames" (what cannot be
    looked at is "frames" too: its worker then says what is wrong with it)."""
    try:
        return "bag" if (path / "metadata.yaml").is_file() or path.suffix == BAG_FILE_SUFFIX else "frames"
    except OSError:
        return "frames"


def make_job(path: Path, directory: Path) -> Job:
    kind = input_kind(path)
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:8]
    name = f"{path.name if path.is_dir() else path.stem}-{digest}"
    return Job(str(path), kind, str(directory / (name if kind == "bag" else name + ".jsonl")))


def partial_path(final: Path) -> Path:
    return final.parent / f"{PARTIAL_PREFIX}{uuid.uuid4().hex[:8]}-{final.name}"


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_partial_outputs(directory: Path) -> int:
    partials = list(directory.glob(PARTIAL_PREFIX + "*"))
    for path in partials:
        remove_path(path)
    return len(partials)


def one_line(error: BaseException) -> str:
    """An error as one line for the manifest; names the type of errors that are not ours."""
    text = " ".join(str(error).split()) or type(error).__name__
    ours = type(error).__module__.startswith(("hand_tracking_ros", "rosbags"))
    return text if ours else f"{type(error).__name__}: {text}"


def result_record(job: Job, seconds: float, frames: int = 0, frames_with_hands: int = 0, skipped: int = 0,
                  error: str | None = None) -> dict:
    return {"input": job.input, "output": None if error else job.output, "frames": frames,
            "frames_with_hands": frames_with_hands, "skipped": skipped, "seconds": round(seconds, 3),
            "status": "failed" if error else "ok", "error": error}


# --- One tracker, several inputs side by side ----------------------------------------------------------


class _Request:
    def __init__(self, view: InputTracker, images: dict, timestamps: dict, depths: dict):
        self.view, self.images, self.timestamps, self.depths = view, images, timestamps, depths
        self.hands: dict | None = None
        self.error: BaseException | None = None
        self.done = False


class SharedTracker:
    """One HandTracker used by several inputs at once, each from its own thread, through an ``InputTracker``.

    The inputs' streams are kept apart (stream keys are (input, stream)), and each round, once every open
    input has handed in its next images (or ended), one ``process_streams`` call serves all of them: the
    palm detector and the landmark model each run once on the images and crops of every input. Inputs in
    static image mode (folders) and tracking inputs (videos, bags) go in separate calls of the round."""

    def __init__(self, tracker):
        self.tracker = tracker
        self._condition = threading.Condition()
        self._open = 0
        self._inputs = 0
        self._requests: list[_Request] = []

    def open(self, static_image_mode: bool) -> InputTracker:
        with self._condition:
            self._open += 1
            self._inputs += 1
            return InputTracker(self, self._inputs, static_image_mode)

    def close(self, view: InputTracker) -> None:
        with self._condition:
            for stream in view.streams:
                self.tracker.end_stream((view.number, stream))
            self._open -= 1
            self._serve_if_all_waiting()

    def set_camera_intrinsics(self, view: InputTracker, intrinsics, stream) -> None:
        with self._condition:
            self.tracker.set_camera_intrinsics(intrinsics, stream=(view.number, stream))

    def process(self, view: InputTracker, images: dict, timestamps: dict, depths: dict) -> dict:
        """Hands in ``images`` (checked, keyed by the view's streams), once every open view has handed in its
        images; ``timestamps`` and ``depths`` (checked) keyed like them."""
        request = _Request(view, images, timestamps, depths)
        with self._condition:
            self._requests.append(request)
            self._serve_if_all_waiting()
            while not request.done:
                self._condition.wait()
        if request.error is not None:
            raise request.error
        return request.hands

    def _serve_if_all_waiting(self) -> None:
        if not self._requests or len(self._requests) < self._open:
            return
        requests, self._requests = self._requests, []
        for static in (False, True):
            group = [request for request in requests if request.view.static_image_mode == static]
            if not group:
                continue
            images = {(request.view.number, key): image for request in group for key, image in request.images.items()}
            stamps = {(request.view.number, key): stamp for request in group
                      for key, stamp in request.timestamps.items()}
            depths = {(request.view.number, key): depth for request in group for key, depth in request.depths.items()}
            if self.tracker.static_image_mode != static:
                self.tracker.update(static_image_mode=static)  # no models are loaded for this option
            try:
                hands = self.tracker.process_streams(images, stamps, depths=depths)
            except Exception as error:  # reaches every input of the call, each raises it in its own thread
                for request in group:
                    request.error = error
                continue
            for request in group:
                request.hands = {key: hands[request.view.number, key] for key in request.images}
        for request in requests:
            request.done = True
        self._condition.notify_all()


class InputTracker:
    """What one input sees of a SharedTracker: the HandTracker calls that ``process_bag`` and ``track_source``
    make, with the ids an own tracker would give (0, 1, 2... in the order the input's tracks begin)."""

    def __init__(self, shared: SharedTracker, number: int, static_image_mode: bool):
        self.shared, self.number, self.static_image_mode = shared, number, static_image_mode
        self.streams: set = set()
        self._ids: dict[int, int] = {}

    def __enter__(self) -> InputTracker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.shared.close(self)

    def set_camera_intrinsics(self, intrinsics, stream=None) -> None:
        self.streams.add(stream)
        self.shared.set_camera_intrinsics(self, intrinsics, stream)

    def process(self, image_rgb, timestamp: float | None = None) -> list:
        return self.process_streams({None: image_rgb}, timestamp)[None]

    def process_streams(self, images: dict, timestamp=None, depths: dict | None = None) -> dict:
        from .tracker import check_stream_inputs

        # Checked here, so that a bad image, depth image or timestamp raises for its own input only (as a
        # tracker of its own would), never in the call that serves every input.
        checked, stamps, depths = check_stream_inputs(images, timestamp, depths)
        self.streams.update(checked)
        hands = self.shared.process(self, checked, stamps, depths)
        return {key: [replace(hand, id=self._ids.setdefault(hand.id, len(self._ids))) for hand in stream_hands]
                for key, stream_hands in hands.items()}


# --- What a worker does with one input -----------------------------------------------------------------


def process_job(job: Job, shared: SharedTracker, args: argparse.Namespace) -> tuple[dict, str | None]:
    """Process one input into a result under a temporary name in its folder; its manifest record and that
    temporary name (None when it failed), which ``publish`` renames into place. Any error of the input gives
    a "failed" record: one bad input never stops a worker."""
    start = time.monotonic()
    partial = partial_path(Path(job.output))
    try:
        if job.kind == "bag":
            frames, frames_with_hands, skipped = _process_bag(Path(job.input), partial, shared, args)
        else:
            frames, frames_with_hands, skipped = _process_frames(job.input, partial, shared, args)
    except Exception as error:  # the batch boundary: whatever went wrong, it is this input's alone
        remove_path(partial)
        return result_record(job, time.monotonic() - start, error=one_line(error)), None
    return result_record(job, time.monotonic() - start, frames, frames_with_hands, skipped), str(partial)


def publish(partial: Path, final: Path) -> None:
    """Rename a complete result into place (over a result of an earlier run that its manifest does not know).
    Only the driver does this, right before it records the input: a result under its final name is never
    half-written, and is one the manifest knows unless the run was killed between the two."""
    remove_path(final)
    os.replace(partial, final)


def _process_bag(path: Path, output: Path, shared: SharedTracker, args: argparse.Namespace):
    from .bag import process_bag

    topics = args.image_topics or bag_image_topics(path)
    with shared.open(args.static_image_mode) as tracker:
        summary = process_bag(path, output, topics, tracker, assumed_depth=args.marker_assumed_depth,
                              mirrored=args.mirrored)
    skipped = sum(summary.bad_images.values())
    return sum(summary.images.values()) - skipped, sum(summary.images_with_hands.values()), skipped


def bag_image_topics(path: Path) -> list[str]:
    """Every Image and CompressedImage topic of the bag, one per camera (when no --image-topic is given)."""
    from .bag import IMAGE_TYPES, BagError, _import_rosbags

    rosbag2 = _import_rosbags()
    try:
        with rosbag2.Reader(path) as reader:
            topics = {connection.topic for connection in reader.connections if connection.msgtype in IMAGE_TYPES}
    except (FileNotFoundError, rosbag2.ReaderError) as error:
        raise BagError(f"cannot read rosbag2 {path}: {error}") from error
    if not topics:
        raise BagError(f"{path} has no sensor_msgs Image or CompressedImage topic")
    # A camera recorded both raw and compressed (image_transport) is one camera: its raw images are tracked.
    return sorted(topic for topic in topics if topic.removesuffix("/compressed") not in topics - {topic})


def _process_frames(spec: str, output: Path, shared: SharedTracker, args: argparse.Namespace):
    from .cli import track_source
    from .sources import FrameSource

    source = FrameSource(spec)
    with shared.open(args.static_image_mode or source.is_still) as tracker, \
            open(output, "w", encoding="utf-8") as file:
        summary = track_source(source, file, tracker)
    return summary.frames, summary.frames_with_hands, sum(summary.skipped.values())


class BatchWorker:
    """A Ray actor (``ray.remote`` is applied in ``run``): the models, loaded once, and the inputs it is given."""

    def __init__(self, args: argparse.Namespace):
        logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                            format="%(name)s: %(levelname)s: %(message)s")
        self.args = args
        self.shared = SharedTracker(tracker_from_arguments(args))

    def provider(self) -> str:
        return self.shared.tracker.execution_provider

    def process(self, job: Job) -> tuple[dict, str | None]:
        return process_job(job, self.shared, self.args)


# --- The manifest --------------------------------------------------------------------------------------


class Manifest:
    """DIR/manifest.jsonl: one record per input (the newest wins), sorted by input; saved whole under a
    temporary name and renamed, so a reader or a killed run never sees half a file."""

    def __init__(self, directory: Path):
        self.path = directory / MANIFEST_NAME
        self.records: dict[str, dict] = {}
        self._saved_at = 0.0
        self._dirty = False
        if self.path.exists():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    record = json.loads(line)
                    self.records[record["input"]] = record
                except (ValueError, KeyError, TypeError):
                    LOGGER.warning("%s line %d is not a manifest record; ignored", self.path, number)

    def is_done(self, job: Job, retry_failed: bool) -> bool:
        record = self.records.get(job.input)
        if record is None:
            return False
        if record.get("status") == "ok":
            return record.get("output") == job.output and Path(job.output).exists()
        return not retry_failed

    def add(self, record: dict) -> None:
        self.records[record["input"]] = record
        self._dirty = True
        if time.monotonic() - self._saved_at >= MANIFEST_SAVE_INTERVAL:
            self.save()

    def save(self) -> None:
        if not self._dirty:
            return
        temporary = self.path.with_name(f"{PARTIAL_PREFIX}{uuid.uuid4().hex[:8]}-{MANIFEST_NAME}")
        with open(temporary, "w", encoding="utf-8") as file:
            file.writelines(json.dumps({key: record.get(key) for key in MANIFEST_KEYS}) + "\n"
                            for _, record in sorted(self.records.items()))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        self._saved_at, self._dirty = time.monotonic(), False


class DirectoryLock:
    """DIR/.batch.lock, held while a run writes to DIR: a second run into the same DIR is refused."""

    def __init__(self, directory: Path):
        self.path = directory / LOCK_NAME
        self.file = None

    def __enter__(self) -> DirectoryLock:
        import fcntl

        self.file = open(self.path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self.file.close()
            raise BatchError(f"another `hand-tracking batch` is writing to {self.path.parent}") from error
        return self

    def __exit__(self, *exc_info) -> None:
        self.file.close()


# --- The command ---------------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """argparse type of the counts of workers and streams."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="rosbag2 folders (sqlite3 or mcap), videos, image folders, or .txt files listing "
                             "them one a line")
    parser.add_argument("--output", type=Path, required=True, metavar="DIR",
                        help="folder of the results and manifest.jsonl (made if missing; a rerun resumes)")
    parser.add_argument("--image-topic", action="append", metavar="T", dest="image_topics",
                        help="bags: Image or CompressedImage topic to track; repeat for several cameras "
                             "(default: every image topic of each bag)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="join this Ray cluster (for example auto, or HEAD:6379 after `ray start --head`); "
                             "default: start Ray on this machine for this run")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="Ray actors, each loads the models once and takes one CPU (default: the CPUs of "
                             "this machine or of the cluster; with a GPU device, GPUs x --workers-per-gpu)")
    parser.add_argument("--workers-per-gpu", type=positive_int, default=DEFAULT_WORKERS_PER_GPU, metavar="N",
                        help="with --device cuda or tensorrt, actors sharing one GPU: each asks Ray for 1/N "
                             "of a GPU (default %(default)s)")
    parser.add_argument("--streams-per-worker", type=positive_int, metavar="N",
                        help=f"inputs one actor processes side by side, its frames batched in one inference "
                             f"call (default {DEFAULT_GPU_STREAMS} with a GPU, 1 on the CPU)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="also redo the inputs that the manifest lists as failed")
    add_tracker_arguments(parser)
    add_marker_depth_argument(parser, help_prefix="bags: ")


def run(args: argparse.Namespace) -> int:
    try:
        return run_batch(args)
    except BatchError as error:
        print(f"hand-tracking batch: error: {error}", file=sys.stderr)
        return 1


def run_batch(args: argparse.Namespace) -> int:
    """The command; 0 when every input is ok, 1 when one failed, 130 when interrupted (rerun to finish)."""
    directory = Path(os.path.abspath(args.output))
    jobs = [make_job(path, directory) for path in expand_inputs(args.inputs)]
    if not jobs:
        raise BatchError("no inputs (the input lists are empty)")
    missing = [job.input for job in jobs if not os.path.exists(job.input)]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BatchError(f"cannot make the output folder {directory}: {error.strerror or error}") from error
    with DirectoryLock(directory):
        removed = remove_partial_outputs(directory)
        if removed:
            LOGGER.warning("removed %d unfinished results of an earlier run", removed)
        manifest = Manifest(directory)
        for path in missing:  # recorded without starting anything: no worker could read them either
            manifest.add(result_record(Job(path, "frames", ""), 0.0, error=f"input {path} does not exist"))
        todo = [job for job in jobs if job.input not in missing and not manifest.is_done(job, args.retry_failed)]
        try:
            if todo:
                interrupted = _run_on_ray(todo, args, manifest, directory)
            else:
                interrupted = False
                print(f"hand-tracking batch: all {len(jobs)} inputs are done already ({manifest.path})",
                      file=sys.stderr)
        finally:
            manifest.save()
    if interrupted:
        print("hand-tracking batch: interrupted; rerun the same command to finish", file=sys.stderr)
        return 130
    failed = [job.input for job in jobs if manifest.records[job.input]["status"] != "ok"]
    print(f"hand-tracking batch: {len(jobs) - len(failed)} of {len(jobs)} inputs ok, {len(failed)} failed; "
          f"manifest: {manifest.path}", file=sys.stderr)
    return 1 if failed else 0


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise BatchError(f"batch processing needs Ray ({error}): pip install \"hand_tracking_ros[scale]\"") from error
    return ray


def _run_on_ray(todo: list[Job], args: argparse.Namespace, manifest: Manifest, directory: Path) -> bool:
    """Process ``todo`` on Ray, recording results in ``manifest``; True when interrupted (Ctrl-C, SIGTERM)."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet = dict(logging_level=logging.INFO if args.verbose else logging.ERROR, log_to_driver=args.verbose)
        if args.ray_address:
            check_reachable(args.ray_address)
            try:
                ray.init(address=args.ray_address, **quiet)
            except ConnectionError as error:
                raise BatchError(f"cannot join the Ray cluster at {args.ray_address}: {one_line(error)}. A cluster "
                                 "with token authentication (the default of `ray start` since Ray 2.59) needs "
                                 "RAY_AUTH_MODE=token and its token here (`ray get-auth-token` on the head)"
                                 ) from error
        else:
            ray.init(address="local", num_cpus=args.workers or os.cpu_count() or 1, include_dashboard=False,
                     **quiet)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # preemption: as Ctrl-C
    scheduler = None
    try:
        scheduler = _Scheduler(ray, *_start_workers(ray, args, len(todo)), manifest)
        scheduler.run(todo)
        return False
    except KeyboardInterrupt:
        if scheduler is not None:
            scheduler.stop(wait=not started_here)
        return True
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if started_here:
            ray.shutdown()  # waits for the workers' processes: nothing writes to DIR after this
        remove_partial_outputs(directory)


def check_reachable(address: str) -> None:
    """Refuse at once a HOST:PORT cluster address that nothing answers at (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto", a ray:// client address...: Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise BatchError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}): start one there "
                         "with `ray start --head`, or leave out --ray-address to run on this machine") from error


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _start_workers(ray, args: argparse.Namespace, inputs: int):
    """The actors, ready (models loaded), and how many inputs each processes side by side."""
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    uses_gpu = args.device in GPU_DEVICES or (args.device == "auto" and gpus > 0)
    if args.device in GPU_DEVICES and gpus == 0:
        raise BatchError(f"--device {args.device}: the Ray cluster has no GPU (resources: "
                         f"{', '.join(f'{k}={v:g}' for k, v in sorted(resources.items()) if k.isupper())})")
    # Each actor holds its CPU (and GPU share) to the end: more actors than fit would wait forever.
    fit = max(1, int(resources.get("CPU", 1)))
    if uses_gpu:
        fit = max(1, min(fit, int(gpus * args.workers_per_gpu + 1e-9)))
        streams = args.streams_per_worker or DEFAULT_GPU_STREAMS
        options = dict(num_cpus=1, num_gpus=1 / args.workers_per_gpu)
    else:
        streams = args.streams_per_worker or 1
        options = dict(num_cpus=1)
    workers = args.workers or fit
    if workers > fit:
        LOGGER.warning("--workers %d: the Ray cluster has room for %d (a CPU%s each); starting %d", workers, fit,
                       " and a GPU share" if uses_gpu else "", fit)
        workers = fit
    if args.device == "tensorrt" and streams * args.max_num_hands > MAX_BATCH:
        raise BatchError(f"--streams-per-worker {streams} x --max-hands {args.max_num_hands} crops exceed the "
                         f"{MAX_BATCH} crops the TensorRT engines are built for; give fewer streams")
    workers = min(workers, -(-inputs // streams))  # no actor without an input to load models for
    # Each actor is one CPU: one onnxruntime thread per model and no extra crop threads, unless asked for. A
    # worker's folder is not the driver's: a relative --models-dir is made absolute here.
    worker_args = argparse.Namespace(**{**vars(args), "threads": args.threads or 1,
                                        "models_dir": args.models_dir and os.path.abspath(args.models_dir)})
    # A worker that dies (a crash, a lost node) is restarted; the scheduler gives its inputs one more try.
    actor_class = ray.remote(BatchWorker).options(max_concurrency=streams, max_restarts=-1, **options)
    actors = [actor_class.remote(worker_args) for _ in range(workers)]
    try:
        providers = ray.get([actor.provider.remote() for actor in actors])
    except ray.exceptions.RayActorError as error:
        raise BatchError(f"the workers cannot start: {_creation_error(error)}") from error
    LOGGER.info("%d workers (%s), %d inputs each at a time", workers, ", ".join(sorted(set(providers))), streams)
    return actors, streams


def _creation_error(error) -> str:
    """What an actor's constructor raised, from Ray's text of it (its traceback's last line, as
    "module.ErrorType: message"), without the traceback."""
    lines = [line.strip() for line in str(getattr(error, "error_msg", "") or error).splitlines() if line.strip()]
    name, _, message = lines[-1].partition(": ") if lines else ("", "", "")
    return message if message and name.replace(".", "").replace("_", "").isalnum() else one_line(error)


class _Scheduler:
    """Keeps every actor busy with ``streams`` inputs, publishes and records each result as it comes, and
    shows the progress (inputs, frames, frames per second) on a terminal."""

    def __init__(self, ray, actors: list, streams: int, manifest: Manifest):
        self.ray, self.actors, self.streams, self.manifest = ray, actors, streams, manifest
        self.pending: dict = {}  # ObjectRef -> (job, actor)
        self.tries: dict[str, int] = {}
        self.frames = self.failed = 0
        self.start = time.monotonic()
        self.progress = None

    def run(self, todo: list[Job]) -> None:
        from tqdm import tqdm

        queue = deque(todo)
        for actor in self.actors:
            for _ in range(self.streams):
                if queue:
                    self._submit(actor, queue.popleft())
        with tqdm(total=len(todo), unit="input", disable=not sys.stderr.isatty(), dynamic_ncols=True) as progress:
            self.progress = progress
            try:
                while self.pending:
                    done, _ = self.ray.wait(list(self.pending), num_returns=1)
                    job, actor = self.pending.pop(done[0])
                    if not self._finish(done[0], job, retry_with=actor) and queue:
                        self._submit(actor, queue.popleft())
            finally:
                self.progress = None

    def stop(self, wait: bool) -> None:
        """Kill the actors, keep the results that were complete, and wait (on a cluster) until the actors are
        gone, so that no temporary result is still being written when they are removed."""
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        if self.pending:
            ready, _ = self.ray.wait(list(self.pending), num_returns=len(self.pending),
                                     timeout=STOP_TIMEOUT if wait else 0)
            for reference in ready:
                self._finish(reference, self.pending.pop(reference)[0], retry_with=None)

    def _submit(self, actor, job: Job) -> None:
        self.tries[job.input] = self.tries.get(job.input, 0) + 1
        self.pending[actor.process.remote(job)] = (job, actor)

    def _finish(self, reference, job: Job, retry_with) -> bool:
        """Publish and record one result; True when the input went back to ``retry_with`` (its worker died)."""
        try:
            record, partial = self.ray.get(reference)
        except self.ray.exceptions.RayError as error:  # the worker died; Ray restarts it
            if retry_with is not None and self.tries[job.input] < MAX_TRIES:
                self._submit(retry_with, job)
                return True
            if retry_with is None:
                return False  # stopped: the input is simply not done
            record, partial = result_record(job, 0.0, error=f"worker lost {MAX_TRIES} times: {one_line(error)}"), None
        if partial is not None:
            try:
                publish(Path(partial), Path(job.output))
            except OSError as error:
                record = result_record(job, record["seconds"], error=f"cannot write {job.output}: {error}")
        self.manifest.add(record)
        self.frames += record["frames"]
        if record["status"] != "ok":
            self.failed += 1
            message = f"hand-tracking batch: failed: {job.input}: {record['error']}"
            if self.progress is not None:
                self.progress.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)
        if self.progress is not None:
            fps = self.frames / (time.monotonic() - self.start)
            self.progress.set_postfix({"frames": self.frames, "fps": f"{fps:.1f}", "failed": self.failed},
                                      refresh=False)
            self.progress.update()
        return False
