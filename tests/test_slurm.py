"""The workflow on SLURM: `snakemake --profile slurm` on the local single-node cluster that
scripts/slurm-cluster.sh starts (Slurm 22.05 from Debian, two fake GPUs backed by /dev/null).

The profile is profiles/slurm/ with its site lines filled in for that cluster
(tests/slurm/profile-overrides.yaml), installed the documented way: a `slurm` folder in
Snakemake's user profile folder (here $XDG_CONFIG_HOME/snakemake/slurm, a symlink).

Scenarios, each in its own working folder (never the repository's results/), started together in
the background so that their waits overlap; each test waits for its own:
  sweep    the tiny config (tests/configs/tiny.yaml) with resources.gpus: 1, all of it: one SLURM
           job per run (the profile's group of train and evaluate), compared with the same
           config run locally (conftest's `finished_tiny_sweep`, which test_workflow reads too)
  requeue  one run (train and evaluate); once training has saved an epoch, the test requeues its
           SLURM job (`scontrol requeue`, as a preemption does). SLURM sends SIGTERM, holds the
           job about two minutes, runs it again under the same job ID; training resumes and the
           run completes without Snakemake noticing more than a longer job
  arrays   seed 0 only, the profile without its groups and with --slurm-array-jobs train,evaluate:
           the two trainings go in one job array, then the evaluations
  fails    training fails fast (batch_size larger than the train split), --retries 0: Snakemake
           must report the SLURM job as failed and exit non-zero, not hang
  timeout  one training run with a 1-minute time limit. Its first attempt is made to overrun:
           once it has saved an epoch the test stops its training process (SIGSTOP), as a job too
           slow for its limit. SLURM ends it with TIMEOUT; Snakemake retries it with attempt 2,
           which the rule's `runtime` turns into a 2-minute limit; training resumes and finishes.
Every Snakemake is bounded by a hard kill (a hung Snakemake ignores SIGTERM), then its SLURM jobs
are cancelled.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import REPO, merged

SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILE = REPO / "profiles" / "slurm" / "config.v8+.yaml"
OVERRIDES = Path(__file__).resolve().parent / "slurm" / "profile-overrides.yaml"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
CLUSTER = REPO / "scripts" / "slurm-cluster.sh"
# Held while a test session uses the cluster: two sessions on one machine take turns (the first
# would otherwise stop the cluster under the second's jobs).
CLUSTER_LOCK = Path(os.environ.get("SEGSWEEP_SLURM_DIR", "/tmp/segsweep-slurm") + ".lock")
BIN = Path(sys.executable).parent  # the venv's bin: snakemake, and `python` for the rules' shells

RESOURCES = {"gpus": 1, "train_mem_mb": 1000, "train_runtime_min": 10, "eval_mem_mb": 1000, "eval_runtime_min": 10}
ONE_RUN = "results/tiny/runs/unet/none/split0/seed0"
ONE_EVAL = "results/tiny/eval/unet/none/split0/seed0"
TIMEOUT_EPOCHS = 40
REQUEUE_EPOCHS = 40

# scenario -> (config changes to tests/configs/tiny.yaml, extra arguments, profile,
# hard limit in s).
# `fails` fails the same way at every attempt: --retries 0 spares the profile's two retries (the
# plugin polls ever less often while no job completes: each failed attempt adds half a minute).
SCENARIOS = {
    "sweep": ({"resources": RESOURCES}, [], "slurm", 480),
    "fails": (
        {"resources": RESOURCES, "train": {"batch_size": 64}},
        ["--retries", "0", f"{ONE_RUN}/run.json"],
        "slurm",
        300,
    ),
    "timeout": (
        {
            "resources": {**RESOURCES, "train_runtime_min": 1},
            "train": {"epochs": TIMEOUT_EPOCHS, "early_stopping_patience": 0},
        },
        [f"{ONE_RUN}/run.json"],
        "slurm",
        480,
    ),
    "requeue": (
        {"resources": RESOURCES, "train": {"epochs": REQUEUE_EPOCHS, "early_stopping_patience": 0}},
        [f"{ONE_EVAL}/metrics.json"],
        "slurm",
        540,
    ),
    "arrays": (
        {"resources": RESOURCES, "seeds": [0], "train": {"epochs": 1}},
        ["--slurm-array-jobs", "train,evaluate"],
        "slurm-arrays",
        480,
    ),
}
USED_BY = {
    "sweep": "test_tiny_sweep_runs_on_slurm",
    "fails": "test_failing_job_is_reported_as_failed",
    "timeout": "test_timed_out_job_is_retried_with_more_time",
    "requeue": "test_requeued_job_resumes_training_and_completes",
    "arrays": "test_job_arrays_run_the_trainings_of_a_sweep_together",
}


def test_profile_is_valid_for_snakemake(tmp_path):
    """Every key of the shipped profile is an option Snakemake 9 and the plugin accept (no cluster needed)."""
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(merged(yaml.safe_load(TINY.read_text()), {"resources": RESOURCES}))
    )
    result = subprocess.run(
        [BIN / "snakemake", "-s", SNAKEFILE, "--configfile", "config.yaml", "--profile", PROFILE.parent, "-n"],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^train\s+4$", result.stdout, re.MULTILINE), result.stdout[-3000:]
    # One group job per run (train + evaluate), and SLURM may requeue a preempted job.
    assert (result.stdout + result.stderr).count("Group job run ") == 4, result.stdout[-3000:]
    assert profile["slurm-requeue"] is True


# ---------------------------------------------------------------------------------------------
# the cluster and the background runs


@pytest.fixture(scope="session")
def slurm_cluster():
    """The local cluster: started by scripts/slurm-cluster.sh unless already up; stopped if started here."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (it installs packages and starts daemons)")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        pytest.skip("no SLURM client (sbatch) and no apt-get to install Slurm")
    with CLUSTER_LOCK.open("w") as lock:
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session has held {CLUSTER_LOCK} for 15 minutes")
                time.sleep(2)
        up = subprocess.run([CLUSTER, "status"], capture_output=True, text=True, timeout=60).returncode == 0
        try:
            if not up:
                start = subprocess.run([CLUSTER, "start"], capture_output=True, text=True, timeout=600)
                if start.returncode == 2:
                    pytest.skip(f"no local SLURM cluster: {(start.stderr.strip().splitlines() or ['?'])[-1]}")
                assert start.returncode == 0, f"scripts/slurm-cluster.sh start failed:\n{start.stderr}"
            yield
        finally:
            if not up:  # stop what this session started (the script stops only what it started)
                stop = subprocess.run([CLUSTER, "stop"], capture_output=True, text=True, timeout=180)
                assert stop.returncode == 0, stop.stderr


class Run:
    """One Snakemake process in its own session, bounded by a hard deadline."""

    def __init__(self, name: str, workdir: Path, command: list, env: dict, limit: float):
        self.name, self.workdir, self.limit = name, workdir, limit
        self.log = workdir / "snakemake.out"
        self.started = time.monotonic()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(part) for part in command],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seconds: float | None = None
        self.ended: float | None = None
        threading.Thread(target=self._reap, daemon=True, name=f"reap-{name}").start()

    def _reap(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def run_id(self) -> str | None:
        """The plugin's run ID: the SLURM job name of every job of this run."""
        match = re.search(r"SLURM run ID: (\S+)", self.output)
        return match.group(1) if match else None

    def tail(self, chars: int = 6000) -> str:
        return f"--- {self.log} (last {chars} characters) ---\n{self.output[-chars:]}"

    def wait(self) -> Run:
        if self.seconds is None:
            try:
                self.proc.wait(timeout=max(1.0, self.started + self.limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"{self.name}: Snakemake still running after {self.limit} s (killed)\n{self.tail()}")
            self.seconds = (self.ended or time.monotonic()) - self.started
            print(f"{self.name}: Snakemake exited {self.proc.returncode} after {self.seconds:.0f} s")
        return self

    @property
    def returncode(self) -> int:
        return self.wait().proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.run_id and shutil.which("scancel"):
            subprocess.run(["scancel", "--name", self.run_id], capture_output=True, timeout=60)


def install_profiles(xdg_config_home: Path) -> None:
    """profiles/slurm with the test's site lines, as $XDG_CONFIG_HOME/snakemake/slurm (a symlink),
    and the same without its groups as `slurm-arrays` (a group job is never put in an array)."""
    profile = yaml.safe_load(PROFILE.read_text())
    for key, value in yaml.safe_load(OVERRIDES.read_text()).items():
        if isinstance(value, dict) and isinstance(profile.get(key), dict):
            profile[key] = {**profile[key], **value}
        else:
            profile[key] = value
    without_groups = {key: value for key, value in profile.items() if key != "groups"}
    for name, content in (("slurm", profile), ("slurm-arrays", without_groups)):
        edited = xdg_config_home.parent / f"profile-{name}"
        edited.mkdir(parents=True)
        (edited / PROFILE.name).write_text(yaml.safe_dump(content, sort_keys=False))
        link = xdg_config_home / "snakemake" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(edited, target_is_directory=True)


def run_environment(xdg_config_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    # The rules' shells run `python -m segsweep`; jobs get this PATH through sbatch --export=ALL.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CONFIG_HOME"] = str(xdg_config_home)
    return env


def start_scenario(name: str, root: Path, env: dict) -> Run:
    changes, arguments, profile, limit = SCENARIOS[name]
    workdir = root / name
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(merged(yaml.safe_load(TINY.read_text()), changes)))
    command = [BIN / "snakemake", "-s", SNAKEFILE, "--profile", profile]
    # --configfile last: the targets in `arguments` come first, or it would read them as config files
    return Run(name, workdir, command + arguments + ["--configfile", "config.yaml"], env, limit)


def training_process(workdir: Path) -> int | None:
    """PID of the `python -m segsweep train` process running in `workdir`, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if argv[1:4] == [b"-m", b"segsweep", b"train"] and Path(cwd) == workdir:
            return int(entry.name)
    return None


def when_an_epoch_is_saved(run: Run, act: Callable[[], dict | None]) -> dict:
    """Background watch: once the run's training has saved an epoch, call `act` until it returns
    a record of what it did; that record (with the epochs saved) fills the dict returned here."""
    from segsweep.training.state import saved_epochs

    done: dict = {}

    def watch() -> None:
        run_dir = run.workdir / ONE_RUN
        while run.proc.poll() is None and time.monotonic() < run.started + run.limit:
            try:
                epochs = saved_epochs(run_dir)
            except (OSError, ValueError, KeyError):  # being written
                epochs = 0
            record = act() if epochs >= 1 else None
            if record is not None:
                done.update(record, epochs=epochs)
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True, name=f"watch-{run.name}").start()
    return done


def stop_first_attempt(run: Run) -> dict:
    """SIGSTOP the training process once it has saved an epoch: a job too slow for its time limit."""

    def stop() -> dict | None:
        pid = training_process(run.workdir)
        if pid is None:
            return None
        os.kill(pid, signal.SIGSTOP)
        return {"pid": pid, "after": time.monotonic() - run.started}

    return when_an_epoch_is_saved(run, stop)


def requeue_mid_training(run: Run) -> dict:
    """Requeue the run's SLURM job once training has saved an epoch, as a preemption would."""

    def requeue() -> dict | None:
        running = [job["JobId"] for job in slurm_jobs(run.run_id) if job["JobState"] == "RUNNING"] if run.run_id else []
        if not running:
            return None
        done = subprocess.run(["scontrol", "requeue", running[0]], capture_output=True, text=True, timeout=60)
        return {"job": running[0], "returncode": done.returncode, "stderr": done.stderr}

    return when_an_epoch_is_saved(run, requeue)


@pytest.fixture(scope="module")
def slurm_runs(slurm_cluster, request, tmp_path_factory):
    """The scenarios the selected tests need, all started now."""
    selected = {item.originalname for item in request.session.items}
    names = [name for name, test in USED_BY.items() if test in selected]
    root = tmp_path_factory.mktemp("slurm")
    xdg = root / "xdg-config"
    install_profiles(xdg)
    env = run_environment(xdg)
    # The longest waits first: the timeout and failure runs' jobs get the cluster's CPUs before the
    # sweep's.
    runs = {name: start_scenario(name, root, env) for name in names if name != "sweep"}
    if "timeout" in runs:
        runs["timeout"].stopped = stop_first_attempt(runs["timeout"])
    if "requeue" in runs:
        runs["requeue"].requeued = requeue_mid_training(runs["requeue"])
    if "sweep" in names:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(
            run.proc.poll() is not None or "has been submitted with SLURM jobid" in run.output
            for name, run in runs.items()
            if name in ("timeout", "fails")
        ):
            time.sleep(0.5)
        runs["sweep"] = start_scenario("sweep", root, env)
    yield runs
    for run in runs.values():
        run.kill()


# ---------------------------------------------------------------------------------------------
# what SLURM recorded


def slurm_jobs(run_id: str) -> list[dict[str, str]]:
    """`scontrol show job` records of a run's jobs (finished ones stay MinJobAge=600 s), by job ID."""
    out = subprocess.run(["scontrol", "-d", "-o", "show", "job"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 or "No jobs" in out.stdout + out.stderr, out.stderr
    jobs = []
    for line in out.stdout.splitlines():
        record = dict(token.split("=", 1) for token in line.split() if "=" in token)
        if record.get("JobName") == run_id:
            jobs.append(record)
    return sorted(jobs, key=lambda job: int(job["JobId"]))


def result_tree(results: Path) -> set[str]:
    """Every file under results/, with TensorBoard's event file names (time, host, process) as a pattern."""
    return {
        re.sub(r"events\.out\.tfevents\..*", "events.out.tfevents.*", str(path.relative_to(results)))
        for path in results.rglob("*")
        if path.is_file()
    }


def json_shape(value):
    """The keys of a JSON document, recursively (values left out)."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_shape(item) for item in value[:1]]
    return None


# ---------------------------------------------------------------------------------------------
# the tests


@pytest.mark.slurm
@pytest.mark.slow
def test_tiny_sweep_runs_on_slurm(slurm_runs, finished_tiny_sweep):
    sweep = slurm_runs["sweep"]
    assert sweep.returncode == 0, sweep.tail()
    config = yaml.safe_load((sweep.workdir / "config.yaml").read_text())

    # Same result tree as the local run; the JSON files have the same keys.
    tree = result_tree(sweep.workdir / "results")
    assert tree == result_tree(finished_tiny_sweep / "results"), "SLURM and local runs made different files"
    assert {"tiny/report.html", "index.html"} <= tree
    for name in sorted(path for path in tree if path.endswith(".json")):
        shape = json_shape(json.loads((sweep.workdir / "results" / name).read_text()))
        assert shape == json_shape(json.loads((finished_tiny_sweep / "results" / name).read_text())), name

    # Nothing is left to do.
    dry = subprocess.run(
        [BIN / "snakemake", "-s", SNAKEFILE, "--configfile", "config.yaml", "--profile", "slurm", "-n"],
        cwd=sweep.workdir,
        env=run_environment(sweep.workdir.parent / "xdg-config"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]

    # One SLURM job per run, holding its training and its evaluation; the small steps ran on the
    # submitting node.
    assert sweep.run_id, sweep.tail()
    jobs = slurm_jobs(sweep.run_id)
    runs = [
        (model, aug, seed) for model in config["models"] for aug in config["augmentations"] for seed in config["seeds"]
    ]
    assert len(jobs) == len(runs), [(job["JobId"], job["Comment"]) for job in jobs]

    threads = config["train"]["threads"]
    for job in jobs:
        what = f"SLURM job {job['JobId']} ({job['Comment']})"
        assert job["JobState"] == "COMPLETED", what
        assert job["Partition"] == "gpu", what  # the site line of the profile
        assert job["TresPerJob"] == "gres:gpu:1" and job["JOB_GRES"] == "gpu:1", f"{what}: GPU not requested/granted"
        assert job["CPUs/Task"] == str(threads), f"{what}: --cpus-per-task is not the rule's threads ({threads})"
        # Group resources: the larger memory of the two rules, the sum of their time limits.
        assert job["MinMemoryNode"] == f"{max(RESOURCES['train_mem_mb'], RESOURCES['eval_mem_mb'])}M", what
        minutes = RESOURCES["train_runtime_min"] + RESOURCES["eval_runtime_min"]
        assert job["TimeLimit"] == f"00:{minutes:02d}:00", what
        # The job ran both rules and saw the fake GPU (the plugin's --verbose job log prints the job's environment).
        log = Path(job["StdOut"]).read_text(errors="replace")
        assert "rule train:" in log and "rule evaluate:" in log, f"{what}: not both rules in {job['StdOut']}"
        assert re.search(r"'CUDA_VISIBLE_DEVICES': '\d", log), f"{what}: no CUDA_VISIBLE_DEVICES in {job['StdOut']}"

    # Each training ran inside its own SLURM job, and TensorFlow fell back to the CPU (the GPUs are /dev/null).
    trained_in = []
    for model, aug, seed in runs:
        record = json.loads((sweep.workdir / f"results/tiny/runs/{model}/{aug}/split0/seed{seed}/run.json").read_text())
        trained_in.append(record["slurm_job_id"])
        assert record["device"]["type"] == "CPU", record["device"]
    assert sorted(trained_in) == sorted(job["JobId"] for job in jobs)


@pytest.mark.slurm
@pytest.mark.slow
def test_failing_job_is_reported_as_failed(slurm_runs):
    run = slurm_runs["fails"]
    assert run.returncode != 0, run.tail()
    assert "Error in rule train" in run.output, run.tail()
    assert run.run_id, run.tail()
    jobs = slurm_jobs(run.run_id)
    assert [job["JobState"] for job in jobs] == ["FAILED"], [(j["JobId"], j["JobState"]) for j in jobs]
    # Snakemake names the failed job's SLURM log, which the plugin keeps, and the rule's log says why.
    last = jobs[-1]["StdOut"]
    assert last in run.output and Path(last).is_file(), run.tail()
    assert "batch_size" in (run.workdir / "results/tiny/logs/train/unet/none/split0/seed0.log").read_text()
    assert not (run.workdir / ONE_RUN / "run.json").exists()


@pytest.mark.slurm
@pytest.mark.slow
def test_timed_out_job_is_retried_with_more_time(slurm_runs):
    run = slurm_runs["timeout"]
    returncode = run.returncode
    assert run.stopped, f"the first attempt was never seen with a saved epoch\n{run.tail()}"
    assert returncode == 0, run.tail()
    jobs = slurm_jobs(run.run_id)
    assert [(job["JobState"], job["TimeLimit"], job["MinMemoryNode"]) for job in jobs] == [
        ("TIMEOUT", "00:01:00", f"{RESOURCES['train_mem_mb']}M"),
        ("COMPLETED", "00:02:00", f"{2 * RESOURCES['train_mem_mb']}M"),
    ]
    assert "Trying to restart job" in run.output  # Snakemake's retry (a group job's error does not name the state)
    record = json.loads((run.workdir / ONE_RUN / "run.json").read_text())
    assert record["slurm_job_id"] == jobs[1]["JobId"]
    assert record["attempts"] == 2
    assert record["resumed"] and record["resumed_from_epoch"] >= run.stopped["epochs"], record
    assert record["epochs_run"] == TIMEOUT_EPOCHS


@pytest.mark.slurm
@pytest.mark.slow
def test_requeued_job_resumes_training_and_completes(slurm_runs):
    run = slurm_runs["requeue"]
    returncode = run.returncode
    assert run.requeued, f"the job was never seen running with a saved epoch\n{run.tail()}"
    assert run.requeued["returncode"] == 0, run.requeued
    assert returncode == 0, run.tail()
    assert "Error" not in run.output, run.tail()
    jobs = slurm_jobs(run.run_id)
    # One job, run twice: SLURM requeues under the same job ID.
    assert [(job["JobId"], job["JobState"], job["Restarts"]) for job in jobs] == [
        (run.requeued["job"], "COMPLETED", "1")
    ]
    record = json.loads((run.workdir / ONE_RUN / "run.json").read_text())
    assert record["resumed"] is True and record["resumed_from_epoch"] >= run.requeued["epochs"], record
    assert record["attempts"] == 2 and record["epochs_run"] == REQUEUE_EPOCHS, record
    assert (run.workdir / ONE_EVAL / "metrics.json").is_file()  # the evaluation ran in the same job


@pytest.mark.slurm
@pytest.mark.slow
def test_job_arrays_run_the_trainings_of_a_sweep_together(slurm_runs):
    run = slurm_runs["arrays"]
    assert run.returncode == 0, run.tail()
    config = yaml.safe_load((run.workdir / "config.yaml").read_text())
    jobs = slurm_jobs(run.run_id)
    assert all(job["JobState"] == "COMPLETED" for job in jobs), [(j["JobId"], j["JobState"]) for j in jobs]
    trainings = [job for job in jobs if job["Comment"].startswith("rule_train")]
    evaluations = [job for job in jobs if job["Comment"].startswith("rule_evaluate")]
    runs = len(config["models"]) * len(config["seeds"])
    # The trainings, ready together at the start, are the tasks of one array; an evaluation goes
    # in an array with those ready at the same time, or alone when its training ended alone.
    assert len(trainings) == runs and all("ArrayTaskId" in job for job in trainings), trainings
    assert len({job["ArrayJobId"] for job in trainings}) == 1, [job["JobId"] for job in trainings]
    assert len(evaluations) == runs and len(jobs) == 2 * runs, [(j["JobId"], j["Comment"]) for j in jobs]
    for model in config["models"]:
        assert (run.workdir / f"results/tiny/eval/{model}/none/split0/seed0/metrics.json").is_file()
