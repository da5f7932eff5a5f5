"""bench.json -> the Markdown table docs/results.md quotes."""

from __future__ import annotations


def _f(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def markdown(results: dict) -> str:
    m = results["machine"]
    fp = m["floating_point"]
    lines = [
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores{', GPU: ' + ', '.join(m['gpus']) if m['gpus'] else ', no GPU'}), "
        f"oneDNN ISA {fp['isa']}, {fp['intra_op_threads']} TensorFlow thread{'' if fp['intra_op_threads'] == 1 else 's'}, "
        f"TensorFlow {m['versions']['tensorflow']}, Keras {m['versions']['keras']}."
        + (" QUICK MODE: sizes too small for the figures to mean anything." if results.get("quick") else ""),
        "",
        "| what | figure |",
        "|---|---|",
    ]
    row = lambda what, figure: lines.append(f"| {what} | {figure} |")  # noqa: E731
    for regime, r in results.get("input", {}).items():
        rates = r["images_per_second"]
        size = "x".join(map(str, r["input_size"]))
        row(
            f"input pipeline, U-Net {r['filters'][0]}-base at {size} ({regime}; median of {r['epochs'] - 1} epochs): "
            "seed-style / ours / in-memory img/s",
            f"{_f(rates['seed_style'])} / {_f(rates['pipeline'])} / {_f(rates['in_memory'])}",
        )
        row(
            f"ours vs seed-style; ours vs in-memory ({regime})",
            f"{_f(r['pipeline_vs_seed_style'], 2)}x; {_f(100 * r['pipeline_vs_in_memory'])}%",
        )
    if "compute" in results:
        c = results["compute"]
        for r in c["rows"]:
            row(
                f"training {r['model']} at {r['widths']} widths, {'x'.join(map(str, r['input_size']))}: img/s, GFLOP/s "
                "(of the float32 matmul peak measured between its epochs, GFLOP/s)",
                f"{_f(r['images_per_second'])}, {_f(r['gflops'])} "
                f"({_f(100 * r['fraction_of_peak'])}% of {_f(r['matmul_peak_gflops'], 0)})",
            )
    if "precision" in results:
        p = results["precision"]
        for regime, s in p["speed"].items():
            row(f"{p['mixed_policy']} vs float32 ({regime}, training img/s)", f"{_f(s['mixed_vs_float32'], 2)}x")
            if "xla_vs_float32" in s:
                row(f"XLA vs float32 ({regime}, training img/s)", f"{_f(s['xla_vs_float32'], 2)}x")
        if p["iou_over_seeds"] is None:
            row(
                f"best val road IoU over seeds, U-Net float32 vs {p['mixed_policy']}",
                f"not measured: {p['mixed_policy']} trained slower than float32 in every regime",
            )
        for policy, r in (p["iou_over_seeds"] or {}).items():
            row(
                f"best val road IoU, U-Net {policy}, seeds {r['seeds']}, {r['epochs']} epochs (runs not timed: {r['threads_per_run']} thread each)",
                f"{r['mean']:.3f} ± {r['std']:.3f} ({', '.join(f'{v:.3f}' for v in r['best_val_road_iou'])})",
            )
    if "inference" in results:
        i = results["inference"]
        for r in i["rows"]:
            row(
                f"inference {r['model']} {r['mode']} ({r['parameters']:,} params): network at "
                f"{'x'.join(map(str, i['input_size']))}; end to end at {'x'.join(map(str, i['image_size']))}",
                f"{_f(r['network_images_per_second'])}; {_f(r['images_per_second'])} img/s",
            )
        row(
            "U-Net++ L3 vs L4 inference speed: network; end to end",
            f"{_f(i['L3_vs_L4'], 2)}x; {_f(i['L3_vs_L4_end_to_end'], 2)}x",
        )
    if "workflow" in results:
        w = results["workflow"]
        row(
            f"`snakemake -n` of a {w['dag_1000_jobs']['training_jobs']}-training-job sweep",
            f"{_f(w['dag_1000_jobs']['median_seconds'])} s",
        )
        g = w["between_jobs"]
        row(
            f"Snakemake time outside jobs, tiny sweep of {g['jobs']} jobs",
            f"{_f(g['overhead_per_job_seconds'], 2)} s per job",
        )
    for widths, r in results.get("memory", {}).items():
        row(f"peak RSS of one U-Net++ training job, {widths} widths", f"{_f(r['peak_rss_mib'], 0)} MiB")
    sections = results.get("section_seconds", {})
    if sections:
        row(
            "benchmark wall time: " + ", ".join(sections),
            f"{_f(sum(sections.values()) / 60)} min ({', '.join(f'{_f(s, 0)} s' for s in sections.values())})",
        )
    return "\n".join(lines) + "\n"
