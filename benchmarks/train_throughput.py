"""Training throughput of the weak step, against a Martinez-style DataLoader loop, and against the machine's matmul.

Prints, measured in one run on the same data and the same model:
- view-samples per second of one weakly-supervised training step (forward, L_M + L_R, backward, Adam) with the
  kit's tensor-resident batches, at the paper's batch (8 frames × 16 views) and at a large batch;
- the same for a baseline written the way peer projects do it: a ``torch.utils.data.Dataset`` of single frames, a
  ``DataLoader`` that collates them, and a Python loop over views for the loss;
- the machine's measured fp32 matmul GFLOP/s (2048² by default) and the fraction of it each step reaches, counting
  6 FLOPs per weight per sample (2 forward, 4 backward) for the network's linear layers;
- the network's linear layers alone, forward and backward at the paper's batch: the ceiling that any training step
  built on the same matrix products can reach (at 128 rows a product runs well below the 2048² peak);
- steps per second of the same step with each speed option a GPU may want, side by side with the plain step, each on
  a fresh copy of the network (``--options``): ``torch.compile`` of the network, bf16 autocast of its forward
  (the losses stay fp32), and batches copied from host memory each step instead of indexed from the device-resident
  dataset (the kit's way; on a CPU the two are the same memory). None is on in ``train`` (benchmarks/README.md).

    python benchmarks/train_throughput.py [--json] [--hidden 1024] [--steps 30] [--options compiled bf16_autocast host_copy]
    python benchmarks/train_throughput.py --panoptic-epoch     # time a 220k-frame × 31-view epoch (use a GPU)
"""

from __future__ import annotations

import argparse
import copy
import functools
import time
from collections.abc import Callable

import torch
from timing import report  # benchmarks/timing.py
from torch.utils.data import DataLoader, Dataset

from weakpose_lite.cameras import Camera, rotate_to_world
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite import losses
from weakpose_lite.losses import average_pose, multiview_consistency_loss, reproject_average_pose, reprojection_loss
from weakpose_lite.model import ModelConfig, count_parameters
from weakpose_lite.train import TrainConfig, batch_terms, build_model, resolve_device, sample_views
from weakpose_lite.views import Views, make_views


def matmul_gflops(size: int, device: torch.device, repeats: int = 10) -> float:
    """fp32 GFLOP/s of a size² matmul on ``device``, best of ``repeats``."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        _synchronise(device)
        started = time.perf_counter()
        a @ b
        _synchronise(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def flops_per_sample(model: torch.nn.Module) -> int:
    """Training FLOPs per sample of the linear layers: 6 per weight (multiply-add forward, twice that backward)."""
    return 6 * sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def time_linear_layers_alone(model: torch.nn.Module, samples: int, steps: int) -> float:
    """Samples per second of the network's linear layers alone, forward and backward on ``samples`` inputs.

    The ceiling of any training step built on the same matrix products: no normalisation, dropout, loss or optimiser.
    """
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    device = linear[0].weight.device
    inputs = torch.randn(samples, linear[0].in_features, device=device)

    def step() -> int:
        features = inputs
        for layer in linear:
            features = layer(features)
        features.sum().backward()
        return samples

    return _samples_per_second(step, steps, device)


def time_kit_steps(model, views: Views, config: TrainConfig, frames_per_batch: int, steps: int) -> float:
    """View-samples per second of the kit's weak step at ``frames_per_batch`` × ``config.views_per_frame``."""
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    trainable = views.trainable_frames
    device = trainable.device
    generator = torch.Generator(device=device).manual_seed(0)

    def step() -> int:
        frames = trainable[torch.randint(len(trainable), (frames_per_batch,), generator=generator, device=device)]
        view_ids = sample_views(views.usable[frames], config.views_per_frame, generator)
        loss = batch_terms(model, views, frames, view_ids, config, "perspective")["loss"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return int(views.usable[frames[:, None], view_ids].sum())

    return _samples_per_second(step, steps, device)


def plain(model: torch.nn.Module, views: Views) -> tuple[torch.nn.Module, Views | None]:
    """The kit's step as ``train`` runs it: the dataset's tensors resident on the device, a batch an index."""
    return model, None


def compiled(model: torch.nn.Module, views: Views) -> tuple[torch.nn.Module, Views | None]:
    """The network's layers through ``torch.compile`` (the losses and the optimiser stay eager)."""
    model.network = torch.compile(model.network)
    return model, None


def bf16_autocast(model: torch.nn.Module, views: Views) -> tuple[torch.nn.Module, Views | None]:
    """The network's forward (and so its backward) in bfloat16 under autocast; its output, and the losses, fp32."""
    forward, device_type = model.forward, model.mean_2d.device.type

    def autocast_forward(*inputs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return forward(*inputs).float()

    model.forward = autocast_forward
    return model, None


def host_copy(model: torch.nn.Module, views: Views) -> tuple[torch.nn.Module, Views | None]:
    """The dataset kept in host memory: each step gathers its frames there and copies them to the device."""
    return model, views.to("cpu")


SPEED_OPTIONS: dict[str, Callable] = {"compiled": compiled, "bf16_autocast": bf16_autocast, "host_copy": host_copy}


def time_speed_options(model, views: Views, config: TrainConfig, steps: int, options: list[str], rounds: int = 3) -> dict[str, dict]:
    """Steps per second of the weak step at the paper's batch, plain and with each option, each on a fresh copy of
    ``model`` with its own Adam; ``setup_s`` is the option's set-up and first step (compilation included). The options
    take turns for ``rounds`` rounds of ``steps`` steps and each keeps its best round, so that a change of the
    machine's load in the middle does not favour one of them."""
    steppers, figures = {}, {}
    for name in ["plain", *options]:
        prepare = plain if name == "plain" else SPEED_OPTIONS[name]
        started = time.perf_counter()
        network, host_views = prepare(copy.deepcopy(model), views)
        steppers[name] = _weak_step(network, views, host_views, config)
        steppers[name]()
        figures[name] = {"steps_per_s": 0.0, "setup_s": time.perf_counter() - started}
    for _ in range(rounds):
        for name, step in steppers.items():
            rate = _samples_per_second(step, steps, views.usable.device)
            figures[name]["steps_per_s"] = max(figures[name]["steps_per_s"], rate)
    return figures


def _weak_step(model, views: Views, host_views: Views | None, config: TrainConfig) -> Callable[[], int]:
    """One weak step (sampling, forward, L_M + L_R, backward, fused Adam) at the paper's batch, returning 1 (steps
    done); with ``host_views`` its frames are gathered in host memory and copied to the device first."""
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    trainable, device = views.trainable_frames, views.usable.device
    generator = torch.Generator(device=device).manual_seed(0)

    def step() -> int:
        frames = trainable[torch.randint(len(trainable), (config.frames_per_batch,), generator=generator, device=device)]
        view_ids = sample_views(views.usable[frames], config.views_per_frame, generator)
        source, rows = views, frames
        if host_views is not None:  # the frames' every view, copied; the batch then indexes the copy
            source, rows = host_views[frames.cpu()].to(device), torch.arange(len(frames), device=device)
        loss = batch_terms(model, source, rows, view_ids, config, "perspective")["loss"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return 1

    return step


def _samples_per_second(step, steps: int, device: torch.device) -> float:
    for _ in range(3):
        step()
    _synchronise(device)
    started, samples = time.perf_counter(), 0
    for _ in range(steps):
        samples += step()
    _synchronise(device)
    return samples / (time.perf_counter() - started)


class SingleFrameDataset(Dataset):
    """The baseline's data: one multi-view frame per item, views drawn in ``__getitem__`` (the peer-project way)."""

    def __init__(self, views: Views, views_per_frame: int):
        self.views, self.frames, self.views_per_frame = views, views.trainable_frames, views_per_frame

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        frame = int(self.frames[index])
        usable = torch.nonzero(self.views.usable[frame]).squeeze(1)
        chosen = usable[torch.randperm(len(usable))[: self.views_per_frame]]
        t, camera = self.views, self.views.cameras
        return {
            "relative_2d": t.relative_2d[frame, chosen], "visible": t.visible[frame, chosen],
            "confidence": t.confidence[frame, chosen], "pixels": t.pixels[frame, chosen],
            "K": camera.K[frame, chosen], "R": camera.R[frame, chosen], "t": camera.t[frame, chosen],
            "dist": camera.dist[frame, chosen], "root_world": t.root_world[frame], "root_depth": t.root_depth[frame, chosen],
        }  # fmt: skip


def time_dataloader_baseline(model, tensors: Views, config: TrainConfig, frames_per_batch: int, steps: int) -> float:
    """View-samples per second of a DataLoader loop with a per-view Python loss loop, same model and losses."""
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loader = iter(DataLoader(SingleFrameDataset(tensors, config.views_per_frame), batch_size=frames_per_batch, shuffle=True))

    def step() -> int:
        item = next(loader)
        B, V, J, _ = item["relative_2d"].shape
        view_mask = torch.ones(B, V, dtype=torch.bool)
        batch = Views(
            relative_2d=item["relative_2d"], visible=item["visible"], confidence=item["confidence"], usable=view_mask,
            pixels=item["pixels"],
            cameras=Camera(item["K"], item["R"], item["t"], item["dist"]), root_depth=item["root_depth"],
            root_world=item["root_world"], root_valid=torch.ones(B, dtype=torch.bool),
        )  # fmt: skip
        predicted = model(batch.relative_2d.reshape(B * V, J, 2), batch.visible.reshape(B * V, J)).reshape(B, V, J, 3)
        cameras = batch.cameras
        world = rotate_to_world(predicted, cameras.R)
        average = average_pose(world, view_mask)
        multiview_scale = losses.multiview_scale(config.loss.multiview_unit, model.stats)
        reprojection_scale = losses.reprojection_scale(batch, config.loss.reprojection_unit, model.stats)
        loss = 0
        for view in range(V):  # the per-view loss loop of peer projects
            one = slice(view, view + 1)
            multiview = multiview_consistency_loss(world[:, one] / multiview_scale, average / multiview_scale, view_mask[:, one])
            reprojected = reproject_average_pose(average, batch.root_world, cameras.K[:, one], cameras.R[:, one], cameras.t[:, one])
            scale = None if reprojection_scale is None else reprojection_scale[:, one]
            reprojection = reprojection_loss(reprojected, batch.pixels[:, one], batch.visible[:, one], scale)
            loss = loss + losses.weak_loss(multiview, reprojection, config.loss.lam) / V
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return B * V

    return _samples_per_second(step, steps, torch.device("cpu"))


def panoptic_epoch_seconds(model, tensors: Views, config: TrainConfig, frames: int = 220_553, views: int = 31) -> float:
    """Seconds for one Panoptic-sized epoch (Table 1: 220k frames × 31 views), from the measured step rate."""
    rate = time_kit_steps(model, tensors, config, config.frames_per_batch, steps=50)
    return frames * views / rate


def main(argv: list[str] | None = None) -> dict:
    """Run the measurements and print them (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--large-batch-frames", type=int, default=64)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--panoptic-epoch", action="store_true", help="also time a Panoptic-sized epoch")
    parser.add_argument("--options", nargs="*", choices=list(SPEED_OPTIONS), default=list(SPEED_OPTIONS),
                        help="speed options timed beside the plain step (compiled takes tens of seconds to compile)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args(argv)
    device = resolve_device(arguments.device)
    torch.manual_seed(0)
    config = TrainConfig(model=ModelConfig(hidden=arguments.hidden), device=str(device))
    dataset = make_synthetic_splits(SyntheticConfig.tiny())["train"]
    tensors = make_views(dataset, with_targets=False).to(device)
    model = build_model(config, tensors, dataset.skeleton_name).to(device)
    figures = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "hidden": arguments.hidden,
        "parameters": count_parameters(model),
        "matmul_gflops": matmul_gflops(arguments.matmul_size, device),
        "flops_per_sample": flops_per_sample(model),
    }
    paper_batch = config.frames_per_batch
    figures["linear_layers_alone_samples_per_s_paper_batch"] = time_linear_layers_alone(
        model, paper_batch * config.views_per_frame, arguments.steps
    )
    figures["kit_samples_per_s_paper_batch"] = time_kit_steps(model, tensors, config, paper_batch, arguments.steps)
    figures["kit_samples_per_s_large_batch"] = time_kit_steps(model, tensors, config, arguments.large_batch_frames, arguments.steps)
    if device.type == "cpu":
        baseline = time_dataloader_baseline(model, tensors, config, paper_batch, arguments.steps)
        figures["dataloader_samples_per_s_paper_batch"] = baseline
        figures["speedup_vs_dataloader"] = figures["kit_samples_per_s_paper_batch"] / baseline
    measured = (  # (name, its samples/s, its fraction of the matmul peak)
        ("paper_batch", "kit_samples_per_s_paper_batch", "fraction_of_matmul_peak"),
        ("large_batch", "kit_samples_per_s_large_batch", "fraction_of_matmul_peak_large_batch"),
        ("linear_layers_alone", "linear_layers_alone_samples_per_s_paper_batch", "fraction_of_matmul_peak_linear_layers_alone"),
    )
    for name, rate, fraction in measured:
        figures[f"gflops_{name}"] = figures[rate] * figures["flops_per_sample"] / 1e9
        figures[fraction] = figures[f"gflops_{name}"] / figures["matmul_gflops"]
    figures["speed_options"] = time_speed_options(model, tensors, config, arguments.steps, arguments.options)
    if arguments.panoptic_epoch:
        figures["panoptic_epoch_seconds"] = panoptic_epoch_seconds(model, tensors, config)
    table = functools.partial(_print_table, paper_frames=paper_batch, large_frames=arguments.large_batch_frames,
                              views=config.views_per_frame)
    return report(figures, arguments.json, table)


def _print_table(figures: dict, paper_frames: int, large_frames: int, views: int) -> None:
    print(f"device {figures['device']}, {figures['threads']} threads, hidden {figures['hidden']}, "
          f"{figures['parameters']:,} parameters, {figures['flops_per_sample'] / 1e6:.1f} MFLOP per training sample")
    print(f"fp32 matmul: {figures['matmul_gflops']:.0f} GFLOP/s")
    print(f"weak step, batch {paper_frames}x{views}: {figures['kit_samples_per_s_paper_batch']:,.0f} samples/s, "
          f"{figures['gflops_paper_batch']:.0f} GFLOP/s = {100 * figures['fraction_of_matmul_peak']:.0f}% of matmul")
    print(f"weak step, batch {large_frames}x{views}: {figures['kit_samples_per_s_large_batch']:,.0f} samples/s, "
          f"{figures['gflops_large_batch']:.0f} GFLOP/s = {100 * figures['fraction_of_matmul_peak_large_batch']:.0f}% of matmul")
    print(f"linear layers alone (forward + backward, the ceiling of any step), batch {paper_frames}x{views}: "
          f"{figures['linear_layers_alone_samples_per_s_paper_batch']:,.0f} samples/s = "
          f"{100 * figures['fraction_of_matmul_peak_linear_layers_alone']:.0f}% of matmul")
    if "dataloader_samples_per_s_paper_batch" in figures:
        print(f"DataLoader + per-view loop baseline, batch {paper_frames}x{views}: "
              f"{figures['dataloader_samples_per_s_paper_batch']:,.0f} samples/s; kit is "
              f"{figures['speedup_vs_dataloader']:.1f}x faster")
    plain_rate = figures["speed_options"]["plain"]["steps_per_s"]
    print(f"weak step, batch {paper_frames}x{views}, with each speed option (steps/s, best of 3 rounds taken in turns; "
          f"x plain; set-up s incl. 1st step):")  # fmt: skip
    for name, option in figures["speed_options"].items():
        print(f"  {name:<14} {option['steps_per_s']:8.1f} {option['steps_per_s'] / plain_rate:6.2f}x {option['setup_s']:7.1f}")
    if "panoptic_epoch_seconds" in figures:
        print(f"Panoptic-sized epoch (220,553 frames x 31 views): {figures['panoptic_epoch_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
