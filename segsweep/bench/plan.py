"""What each benchmark section measures, and at which sizes.

Two regimes, as the performance issue asks: the default config (small model, where the input
pipeline matters most) and base-16 at 224 px (where the model dominates). Compute is measured
at the default widths and at the paper's ([32..512]). Data is the procedural dataset, made once.
"""

from __future__ import annotations

import functools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


from segsweep.bench import training_speed
from segsweep.bench.processes import run_measured
from segsweep.config import job_settings, load_config

REPO = Path(__file__).resolve().parents[2]
PAPER_FILTERS = [32, 64, 128, 256, 512]


class Plan:
    def __init__(self, out_dir: Path, threads: int, quick: bool):
        self.out_dir = Path(out_dir)
        self.threads = threads
        self.quick = quick
        self.config = load_config(REPO / "config" / "config.yaml")
        self.input_size = tuple(self.config["train"]["input_size"])
        self.batch = self.config["train"]["batch_size"]
        self.epochs = 3 if quick else 4

    # -- data ------------------------------------------------------------------------------
    @functools.cached_property
    def manifest(self) -> Path:
        """The procedural dataset and its split, as the workflow makes them (made once)."""
        from segsweep.data.split import make_split
        from segsweep.data.synthetic import generate

        count = 16 if self.quick else self.config["dataset"]["generate"]["count"]
        root = self.out_dir / f"data{count}"
        if not root.is_dir():
            generate(root, count, seed=0)
        manifest = self.out_dir / f"split{count}.csv"
        if not manifest.is_file():
            make_split("kitti_semantics", root, None, "random", 0, (0.7, 0.15, 0.15), manifest)
        return manifest

    @functools.cached_property
    def train_samples(self):
        from segsweep.data.split import manifest_samples, read_manifest

        return manifest_samples(read_manifest(self.manifest), "train")

    @functools.cached_property
    def train_data(self):
        from segsweep.training.pipeline import decode_samples

        return decode_samples("kitti_semantics", self.train_samples, None, self.threads)

    def _model(self, architecture: str, filters: list[int]) -> dict:
        return {"name": architecture, "architecture": architecture, "deep_supervision": True,
                "filters": filters, "batch_norm": True, "dropout": 0.0}

    def _speed(self, feed: str, model: dict, input_size, n_images: int, batch: int, **kwargs) -> dict:
        data = training_speed.subset(self.train_data, n_images)
        result = training_speed.images_per_second(
            feed, model_settings=model, data=data, samples=self.train_samples[:n_images], fmt="kitti_semantics",
            preset=self.config_preset("flip_crop"), input_size=tuple(input_size), batch_size=batch,
            epochs=kwargs.pop("epochs", self.epochs), **kwargs,
        )
        from segsweep.models import forward_flops

        result["gflops"] = training_speed.achieved_gflops(result["images_per_second"], forward_flops(result.pop("model")))
        return result

    def config_preset(self, name: str) -> list[dict]:
        return job_settings(self.config, "unet", name)["augmentation"]["steps"]

    def _regimes(self) -> dict[str, dict]:
        small = self.quick
        return {
            "default": {"filters": self.config["network"]["filters"], "input_size": self.input_size,
                        "n_images": 16 if small else len(self.train_samples), "batch": self.batch},
            "base16_224": {"filters": [16, 32, 64, 128, 256], "input_size": (64, 64) if small else (224, 224),
                           "n_images": 16 if small else 48, "batch": self.batch},
        }

    # -- sections --------------------------------------------------------------------------
    def input(self) -> dict:
        out = {}
        for regime, r in self._regimes().items():
            model = self._model("unet", r["filters"])
            rates = {feed: self._speed(feed, model, r["input_size"], r["n_images"], r["batch"])["images_per_second"]
                     for feed in ("seed_style", "pipeline", "in_memory")}
            out[regime] = {
                **r, "images_per_second": rates,
                "pipeline_vs_seed_style": rates["pipeline"] / rates["seed_style"],
                "pipeline_vs_in_memory": rates["pipeline"] / rates["in_memory"],
            }
        return out

    def compute(self) -> dict:
        from segsweep.bench.machine import matmul_gflops

        peak = matmul_gflops(n=512 if self.quick else 2048)
        rows = []
        for widths, filters, n_images, batch in (
            ("default", self.config["network"]["filters"], 16 if self.quick else 64, self.batch),
            ("paper", PAPER_FILTERS, 4 if self.quick else 16, 4),
        ):
            for architecture in ("unet", "unetpp"):
                speed = self._speed("in_memory", self._model(architecture, filters), self.input_size, n_images, batch,
                                    epochs=3)
                rows.append({"model": architecture, "widths": widths, "images_per_second": speed["images_per_second"],
                             "gflops": speed["gflops"], "fraction_of_peak": speed["gflops"] / peak})
        return {"matmul_peak_gflops": peak, "rows": rows}

    def precision(self) -> dict:
        """Speed of mixed precision and XLA against float32, then IoU over seeds for bf16 vs fp32."""
        import tensorflow as tf

        mixed = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        speed = {}
        for regime, r in self._regimes().items():
            model = self._model("unet", r["filters"])
            n_images = min(r["n_images"], 48)
            rate = {
                name: self._speed("in_memory", model, r["input_size"], n_images, r["batch"], **kwargs)["images_per_second"]
                for name, kwargs in (("float32", {}), (mixed, {"precision": mixed}), ("xla", {"jit_compile": True}))
            }
            speed[regime] = {"images_per_second": rate, "mixed_vs_float32": rate[mixed] / rate["float32"],
                             "xla_vs_float32": rate["xla"] / rate["float32"]}
        return {"mixed_policy": mixed, "speed": speed, "iou_over_seeds": self._iou_over_seeds(mixed)}

    def _train_job(self, run_dir: Path, settings: dict, seed: int) -> dict:
        """One `segsweep train` process: its wall time, peak RSS and run.json."""
        measured = run_measured(
            [sys.executable, "-m", "segsweep", "train", "--settings", json.dumps(settings), "--manifest",
             str(self.manifest), "--seed", str(seed), "--threads", str(self.threads), "--out-dir", str(run_dir)],
            stdout=subprocess.DEVNULL,
        )
        return {**measured, "run": json.loads((run_dir / "run.json").read_text())}

    def _iou_over_seeds(self, mixed: str) -> dict:
        seeds = [0, 1] if self.quick else [0, 1, 2]
        out = {}
        for policy in ("float32", mixed):
            settings = job_settings(self.config, "unet", "flip_crop")
            settings["train"] = {**settings["train"], "precision": policy, "epochs": 2 if self.quick else 8,
                                 "early_stopping_patience": 0, "threads": self.threads}
            runs = [self._train_job(self.out_dir / "runs" / policy / f"seed{s}", settings, s) for s in seeds]
            ious = [r["run"]["best_val_road_iou"] for r in runs]
            out[policy] = {"seeds": seeds, "best_val_road_iou": ious, "mean": statistics.mean(ious),
                           "std": statistics.stdev(ious) if len(ious) > 1 else 0.0,
                           "train_seconds": [r["run"]["train_seconds"] for r in runs]}
        return out

    def inference(self) -> dict:
        import keras

        from segsweep.data.formats import load_pair
        from segsweep.evaluation.predict import mode_models
        from segsweep.evaluation.speed import inference_rate
        from segsweep.models import build_model, parameter_count

        images = [load_pair("kitti_semantics", s, None)[0] for s in self.train_samples[:4]]
        rows = []
        for architecture in ("unet", "unetpp"):
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy("float32")
            model = build_model(self._model(architecture, self.config["network"]["filters"]), (*self.input_size, 3))
            for mode, mode_model in mode_models(model).items():
                rate = inference_rate(mode_model, images, self.input_size, 0.5, batch_size=4,
                                      repeats=3 if self.quick else 10)
                rows.append({"model": architecture, "mode": mode, "parameters": parameter_count(mode_model),
                             "images_per_second": rate})
        by_mode = {r["mode"]: r["images_per_second"] for r in rows if r["model"] == "unetpp"}
        return {"image_size": list(images[0].shape[:2]), "input_size": list(self.input_size), "rows": rows,
                "L3_vs_L4": by_mode["L3"] / by_mode["L4"]}

    def workflow(self) -> dict:
        from segsweep.bench.workflow_overhead import between_jobs_seconds, dag_seconds

        with tempfile.TemporaryDirectory() as tmp:
            dag = dag_seconds(Path(tmp), repeats=1 if self.quick else 3)
        with tempfile.TemporaryDirectory() as tmp:
            gaps = between_jobs_seconds(REPO / "tests" / "configs" / "tiny.yaml", Path(tmp))
        return {"dag_1000_jobs": dag, "between_jobs": gaps}

    def memory(self) -> dict:
        out = {}
        for widths, filters in (("default", self.config["network"]["filters"]), ("paper", PAPER_FILTERS)):
            settings = job_settings(self.config, "unetpp", "flip_crop")
            settings["model"]["filters"] = filters
            settings["train"] = {**settings["train"], "epochs": 1, "early_stopping_patience": 0}
            job = self._train_job(self.out_dir / "runs" / f"memory_{widths}", settings, 0)
            out[widths] = {"model": "unetpp", "filters": filters, "peak_rss_mib": job["peak_rss_mib"],
                           "seconds": job["seconds"]}
        return out
