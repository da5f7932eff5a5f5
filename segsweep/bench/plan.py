"""What each benchmark section measures, and at which sizes.

Two regimes, as the performance issue asks: the default config (small model, where the input
pipeline matters most) and base-16 at 224 px (where the model dominates). Compute is measured
at the default widths and at the paper's ([32..512]). Data is the procedural dataset, made once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from segsweep.bench import training_speed
from segsweep.bench.processes import run_measured
from segsweep.config import job_settings, load_config

REPO = Path(__file__).resolve().parents[2]
PAPER_FILTERS = [32, 64, 128, 256, 512]
# The input size of the paper-width rows against the matmul peak: the default's until 2026-12-03,
# kept so that those figures compare across days (the default's own rows follow the config).
PAPER_INPUT_SIZE = (64, 224)


class Plan:
    def __init__(self, out_dir: Path, threads: int, quick: bool):
        self.out_dir = Path(out_dir)
        self.threads = threads
        self.quick = quick
        self.config = load_config(REPO / "config" / "config.yaml")
        self.input_size = tuple(self.config["train"]["input_size"])
        self.batch = self.config["train"]["batch_size"]
        # One warm-up epoch, then the timed ones; default-size epochs take about a second.
        self.epochs = 3 if quick else 5
        self._measured: dict[str, dict] = {}

    # -- data ------------------------------------------------------------------------------
    @functools.cached_property
    def manifest(self) -> Path:
        """The procedural dataset at KITTI's frame size (375x1242: the input pipeline decodes and
        crops what KITTI gives it), split by the config's split settings as the workflow splits
        it: the default regime trains on the default sweep's training images (made once)."""
        from segsweep.data.split import make_split
        from segsweep.data.synthetic import generate

        count = 16 if self.quick else self.config["dataset"]["generate"]["count"]
        root = self.out_dir / f"data{count}"
        if not root.is_dir():
            generate(root, count, seed=0, workers=self.threads)
        # Named by the split settings: a manifest kept from another config is not reused.
        settings = hashlib.sha256(json.dumps(self.config["split"], sort_keys=True).encode()).hexdigest()[:12]
        manifest = self.out_dir / f"split{count}-{settings}.csv"
        if not manifest.is_file():
            make_split({"format": "kitti_semantics", "root": str(root)}, self.config["split"], manifest)
        return manifest

    @functools.cached_property
    def train_samples(self):
        from segsweep.data.manifest import manifest_samples, read_manifest

        return manifest_samples(read_manifest(self.manifest), "train")

    def _model(self, architecture: str, filters: list[int]) -> dict:
        return {
            "name": architecture,
            "architecture": architecture,
            "deep_supervision": True,
            "filters": filters,
            "batch_norm": True,
            "dropout": 0.0,
        }

    def _speed(
        self,
        feed: str,
        model: dict,
        input_size,
        n_images: int,
        batch: int,
        *,
        epochs: int,
        precision: str = "float32",
        jit_compile: bool = False,
    ) -> dict:
        """Training images/s and GFLOP/s of one feed, measured in a fresh process (see
        `training_speed`); a measurement two sections share is taken once. The float32 in-memory
        feed, model-bound, is the one set against the float32 matmul roof, measured between its epochs."""
        roof = feed == "in_memory" and precision == "float32" and not jit_compile
        spec = {
            "feed": feed,
            "model_settings": model,
            "manifest": str(self.manifest),
            "n_images": n_images,
            "fmt": "kitti_semantics",
            "preset": self.config_preset("flip_crop"),
            "input_size": list(input_size),
            "batch_size": batch,
            "epochs": epochs,
            "precision": precision,
            "jit_compile": jit_compile,
            "seed": 0,
            "threads": self.threads,
            "roof_matmul_size": (512 if self.quick else 2048) if roof else None,
        }
        key = json.dumps(spec, sort_keys=True)
        if key not in self._measured:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
                self._measured[key] = child.submit(training_speed.measure, spec).result()
        return self._measured[key]

    def config_preset(self, name: str) -> list[dict]:
        return job_settings(self.config, "unet", name)["augmentation"]["steps"]

    def _regimes(self) -> dict[str, dict]:
        small = self.quick
        return {
            "default": {
                "filters": self.config["network"]["filters"],
                "input_size": self.input_size,
                "n_images": 16 if small else len(self.train_samples),
                "batch": self.batch,
                "epochs": self.epochs,
            },
            # Model-bound: epochs of 3 s vary little, so 2 timed epochs are enough.
            "base16_224": {
                "filters": [16, 32, 64, 128, 256],
                "input_size": (64, 64) if small else (224, 224),
                "n_images": 16 if small else 32,
                "batch": self.batch,
                "epochs": 3,
            },
        }

    # -- sections --------------------------------------------------------------------------
    def input(self) -> dict:
        out = {}
        for regime, r in self._regimes().items():
            model = self._model("unet", r["filters"])
            speeds = {
                feed: self._speed(feed, model, r["input_size"], r["n_images"], r["batch"], epochs=r["epochs"])
                for feed in ("seed_style", "pipeline", "in_memory")
            }
            rates = {feed: speed["images_per_second"] for feed, speed in speeds.items()}
            out[regime] = {
                **r,
                "images_per_second": rates,
                "epoch_rates": {feed: speed["epoch_rates"] for feed, speed in speeds.items()},
                "pipeline_vs_seed_style": rates["pipeline"] / rates["seed_style"],
                "pipeline_vs_in_memory": rates["pipeline"] / rates["in_memory"],
            }
        return out

    def compute(self) -> dict:
        default = self._regimes()["default"]
        rows = []
        for widths, filters, input_size, n_images, batch, epochs in (
            ("default", default["filters"], self.input_size, default["n_images"], default["batch"], default["epochs"]),
            # Batch 4 of 8 steps an epoch: the paper's widths are ~50x the FLOPs of the default's.
            ("paper", PAPER_FILTERS, PAPER_INPUT_SIZE, 4 if self.quick else 32, 4, 3),
        ):
            for architecture in ("unet", "unetpp"):
                speed = self._speed(
                    "in_memory", self._model(architecture, filters), input_size, n_images, batch, epochs=epochs
                )
                rows.append(
                    {
                        "model": architecture,
                        "widths": widths,
                        "input_size": list(input_size),
                        "images_per_second": speed["images_per_second"],
                        "gflops": speed["gflops"],
                        "matmul_peak_gflops": speed["matmul_peak_gflops"],
                        "fraction_of_peak": speed["fraction_of_peak"],
                        # each epoch's, and the peaks around them: how far one run moves
                        "epoch_fractions_of_peak": speed["epoch_fractions_of_peak"],
                        "roof_gflops": speed["roof_gflops"],
                    }
                )
        return {"rows": rows}

    def precision(self) -> dict:
        """Speed of mixed precision and XLA against float32, then, where mixed precision is faster in
        any regime, the IoU over seeds it trains to against float32's."""
        import tensorflow as tf

        mixed = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        speed = {}
        for regime, r in self._regimes().items():
            model = self._model("unet", r["filters"])
            variants = [("float32", {"epochs": r["epochs"]}), (mixed, {"precision": mixed, "epochs": r["epochs"]})]
            if regime == "base16_224":
                # XLA only where compute dominates, and one timed epoch after the one that
                # compiles: it was slower in both regimes every time it was measured (0.61x and
                # 0.91x, then 0.62x and 0.62x, then 0.59x at base 16), and its process takes 33 s.
                variants.append(("xla", {"jit_compile": True, "epochs": 2}))
            rate = {
                name: self._speed("in_memory", model, r["input_size"], r["n_images"], r["batch"], **kwargs)[
                    "images_per_second"
                ]
                for name, kwargs in variants
            }
            speed[regime] = {"images_per_second": rate, "mixed_vs_float32": rate[mixed] / rate["float32"]}
            if "xla" in rate:
                speed[regime]["xla_vs_float32"] = rate["xla"] / rate["float32"]
        # Accuracy over seeds, the benchmark's longest part (3 minutes of 10 on 2026-12-03), matters
        # only where mixed precision buys speed: slower in every regime, it is not worth training with.
        pays = any(s["mixed_vs_float32"] > 1 for s in speed.values())
        return {"mixed_policy": mixed, "speed": speed, "iou_over_seeds": self._iou_over_seeds(mixed) if pays else None}

    def _train_job(self, run_dir: Path, settings: dict, seed: int, threads: int) -> dict:
        """One `segsweep train` process: its wall time, peak RSS and run.json."""
        settings = {**settings, "train": {**settings["train"], "threads": threads}}
        measured = run_measured(
            [
                sys.executable,
                "-m",
                "segsweep",
                "train",
                "--settings",
                json.dumps(settings),
                "--manifest",
                str(self.manifest),
                "--seed",
                str(seed),
                "--threads",
                str(threads),
                "--out-dir",
                str(run_dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        return {**measured, "run": json.loads((run_dir / "run.json").read_text())}

    def _iou_over_seeds(self, mixed: str) -> dict:
        """Best validation IoU of U-Net runs per precision. Nothing here is timed, so the runs go
        one per core, one thread each: this section's wall time is then about halved."""
        seeds = [0, 1] if self.quick else [0, 1, 2]
        epochs = 2 if self.quick else self.config["train"]["epochs"]  # the default's training
        runs = {}
        with ThreadPoolExecutor(self.threads) as pool:
            for policy in ("float32", mixed):
                settings = job_settings(self.config, "unet", "flip_crop")
                settings["train"] = {
                    **settings["train"],
                    "precision": policy,
                    "epochs": epochs,
                    "early_stopping_patience": 0,
                }
                runs[policy] = [
                    pool.submit(self._train_job, self.out_dir / "runs" / policy / f"seed{s}", settings, s, 1)
                    for s in seeds
                ]
        out = {}
        for policy, futures in runs.items():
            ious = [f.result()["run"]["best_val_road_iou"] for f in futures]
            out[policy] = {
                "seeds": seeds,
                "epochs": epochs,
                "best_val_road_iou": ious,
                "mean": statistics.mean(ious),
                "std": statistics.stdev(ious) if len(ious) > 1 else 0.0,
                "threads_per_run": 1,
            }
        return out

    def inference(self) -> dict:
        """Per mode: the network alone on a batch at the input size (what the paper's L3-vs-L4 speed
        compares), and end to end at the original resolution (what evaluation times)."""
        import keras
        import numpy as np

        from segsweep.data.formats import load_pair
        from segsweep.evaluation.predict import mode_models
        from segsweep.evaluation.scoring import Task
        from segsweep.evaluation.speed import inference_rate, median_rate
        from segsweep.models import build_model, parameter_count

        images = [load_pair("kitti_semantics", s, None)[0] for s in self.train_samples[:4]]
        x = np.random.default_rng(0).uniform(0, 1, (self.batch, *self.input_size, 3)).astype("float32")
        repeats = 3 if self.quick else 10
        rows = []
        for architecture in ("unet", "unetpp"):
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy("float32")
            model = build_model(self._model(architecture, self.config["network"]["filters"]), (*self.input_size, 3))
            for mode, mode_model in mode_models(model).items():
                rows.append(
                    {
                        "model": architecture,
                        "mode": mode,
                        "parameters": parameter_count(mode_model),
                        "network_images_per_second": median_rate(
                            lambda: mode_model.predict_on_batch(x), len(x), repeats
                        ),
                        "images_per_second": inference_rate(
                            mode_model, Task(None, 0), images, self.input_size, 0.5, batch_size=4, repeats=repeats
                        ),
                    }
                )
        pp = {r["mode"]: r for r in rows if r["model"] == "unetpp"}
        return {
            "image_size": list(images[0].shape[:2]),
            "input_size": list(self.input_size),
            "rows": rows,
            "L3_vs_L4": pp["L3"]["network_images_per_second"] / pp["L4"]["network_images_per_second"],
            "L3_vs_L4_end_to_end": pp["L3"]["images_per_second"] / pp["L4"]["images_per_second"],
        }

    def workflow(self) -> dict:
        from segsweep.bench.workflow_overhead import between_jobs_seconds, dag_seconds

        with tempfile.TemporaryDirectory() as tmp:
            dag = dag_seconds(Path(tmp), repeats=1 if self.quick else 3)
        with tempfile.TemporaryDirectory() as tmp:
            gaps = between_jobs_seconds(REPO / "tests" / "configs" / "tiny.yaml", Path(tmp), {"seeds": [0]})
        return {"dag_1000_jobs": dag, "between_jobs": gaps}

    def memory(self) -> dict:
        """Peak RSS of a U-Net++ training job at each width. The two jobs run side by side: a
        process's high-water mark does not depend on what else runs, and this saves 20-30 s."""
        filters = {"default": self.config["network"]["filters"], "paper": PAPER_FILTERS}
        jobs = {}
        with ThreadPoolExecutor(2) as pool:
            for widths in ("paper", "default"):  # the longer job first
                settings = job_settings(self.config, "unetpp", "flip_crop")
                settings["model"]["filters"] = filters[widths]
                settings["train"] = {**settings["train"], "epochs": 1, "early_stopping_patience": 0}
                run_dir = self.out_dir / "runs" / f"memory_{widths}"
                jobs[widths] = pool.submit(self._train_job, run_dir, settings, 0, self.threads)
        return {
            widths: {
                "model": "unetpp",
                "filters": filters[widths],
                "peak_rss_mib": jobs[widths].result()["peak_rss_mib"],
            }
            for widths in filters
        }
