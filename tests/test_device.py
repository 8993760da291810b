"""Device hygiene without a GPU: training, evaluation and lifting with the network and the views on PyTorch's ``meta``
device (tensors with shapes and no data), so that any tensor made on the CPU by mistake and mixed into the computation
raises "Tensor on device cpu is not on the expected device meta!", as it would on CUDA; and the host syncs (reads of
a value by Python, which make a GPU wait) of a training step, counted.

What ``meta`` cannot do, and where each check therefore stops:
- shapes that depend on values (``nonzero``, boolean masks: ``Views.trainable_frames``, the statistics' masked means)
  run under ``meta_nonzero_assume_all_nonzero``: every frame counts as trainable; no value is ever read.
- reading a value: ``train`` runs every step of its first epoch and stops at the epoch's ``.item()`` (its first host
  read); ``evaluate`` stops at the ``.cpu()`` before the metrics' numpy; ``validation_loss`` at its first ``.item()``.
  Each check expects exactly that error, so any other (a device mix above all) fails it.
- torch has no random generator for ``meta`` and no fused Adam kernel: a CPU generator and the plain Adam stand in.
  ``meta`` accepts a CPU generator, so a generator left on the CPU is not caught here (on CUDA ``train`` makes its
  generator on the device).
"""

import dataclasses
from collections import Counter
from contextlib import contextmanager

import pytest
import torch
import torch.fx.experimental._config as fx_config
from torch.utils._python_dispatch import TorchDispatchMode

from weakpose_lite import inference, losses
from weakpose_lite import train as training
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.views import make_views

META = torch.device("meta")
FRAMES_PER_EPOCH, EPOCHS = 40, 3
CONFIG = training.TrainConfig(model=ModelConfig(hidden=32, dropout=0.1), epochs=EPOCHS, views_per_frame=8,
                              max_frames_per_epoch=FRAMES_PER_EPOCH, device="cpu")  # fmt: skip
STEPS = FRAMES_PER_EPOCH // CONFIG.frames_per_batch
WARMUP_STEPS = round(CONFIG.warmup_fraction * STEPS * EPOCHS)  # 3 of the first epoch's 5 steps
ITEM_ON_META = r"Tensor\.item\(\) cannot be called on meta tensors"


@pytest.fixture(scope="module")
def splits():
    return make_synthetic_splits(SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=40))


_RealGenerator = torch.Generator


class _CpuGeneratorForMeta(_RealGenerator):
    """``torch.Generator(device="meta")`` is refused ("not an accelerator"): a CPU one instead."""

    def __new__(cls, device="cpu"):
        return _RealGenerator.__new__(cls, "cpu" if torch.device(device).type == "meta" else device)

    def __init__(self, device="cpu"):
        pass


class _CountingAdam(torch.optim.Adam):
    """The plain Adam (fused Adam has no meta kernel), counting its steps."""

    steps = 0

    def __init__(self, params, fused=None, **options):
        super().__init__(params, **options)

    def step(self, closure=None):
        type(self).steps += 1
        return super().step(closure)


@pytest.fixture
def on_meta(monkeypatch):
    """``meta`` made usable by ``train``, and shapes of masks as if every element were true."""
    monkeypatch.setattr(torch, "Generator", _CpuGeneratorForMeta)
    monkeypatch.setattr(torch.optim, "Adam", _CountingAdam)
    monkeypatch.setattr(_CountingAdam, "steps", 0)
    with fx_config.patch(meta_nonzero_assume_all_nonzero=True):
        yield


@pytest.mark.parametrize("changes", [
    {"mode": "strong"}, {"mode": "weak"}, {"mode": "weak", "loss_units": "mm"},
    {"mode": "weak", "loss_units": "normalised", "output_statistics": "isotropic", "reprojection_views": "all"},
    {"mode": "weak", "reprojection_weights": "confidence", "reprojection_cap": 50.0},
])  # fmt: skip
def test_training_steps_run_on_meta_up_to_the_epochs_first_host_read(splits, on_meta, monkeypatch, changes):
    """Every step of the first epoch, for the weak model across the warm-up's switch from scaled-orthographic to
    perspective re-projection, then ``.item()`` of the epoch's mean losses: the one error meta may raise. The units
    cover each scale of L_M and L_R (cm, mm, normalised; pixels, mm at the subject, normalised)."""
    projections = []
    reproject = losses.reproject_average_pose

    def spy(*args, **kwargs):
        projections.append(kwargs.get("projection", args[5] if len(args) > 5 else "perspective"))
        assert all(arg.device == META for arg in args[:5])
        return reproject(*args, **kwargs)

    monkeypatch.setattr(losses, "reproject_average_pose", spy)
    with pytest.raises(RuntimeError, match=ITEM_ON_META):
        training.train(training.with_fields(CONFIG, **changes, device="meta"), splits["train"], splits["validation"])
    assert _CountingAdam.steps == STEPS
    if changes["mode"] == "weak":
        assert projections == ["scaled_orthographic"] * WARMUP_STEPS + ["perspective"] * (STEPS - WARMUP_STEPS)


def _network_on_meta(dataset, mode: str) -> LiftingNetwork:
    """A small network with statistics computed on the CPU, then moved to meta with everything it holds."""
    views = make_views(dataset, with_targets=mode == "strong")
    stats = NormalisationStats.from_2d(views.relative_2d[views.usable], views.visible[views.usable],
                                       views.root_depth[views.usable])  # fmt: skip
    return LiftingNetwork(ModelConfig(hidden=32), dataset.skeleton, stats).to(META)


def test_evaluation_runs_on_meta_up_to_the_copy_for_the_metrics(splits, on_meta):
    model = _network_on_meta(splits["train"], "weak")
    views = make_views(splits["validation"], with_targets=False).to(META)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        inference.evaluate(model, views, splits["validation"].skeleton)
    with pytest.raises(RuntimeError, match=ITEM_ON_META):
        training.validation_loss(model, views, dataclasses.replace(CONFIG, device="meta"))


def test_a_network_on_the_device_evaluates_views_kept_in_host_memory(splits, on_meta):
    """As ``results.train_and_report`` and the per-epoch monitor do after training on a GPU: the test set's views stay
    on the CPU, each chunk travels to the network's device and its predictions come back, where meta stops (it has
    no data to copy). A chunk fed to the network without moving raises the device error instead."""
    model = _network_on_meta(splits["train"], "weak")
    views = make_views(splits["test"], with_targets=False)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        inference.evaluate(model, views, splits["test"].skeleton)


@pytest.mark.parametrize("coordinate_frame", ["world", "camera"])
def test_lifting_runs_on_meta_to_the_end(splits, on_meta, coordinate_frame):
    """``lift_views`` (predict, Eq. 5-6 fusion, Eq. 8 placement, statuses) reads no value: it runs through on meta."""
    dataset = splits["test"]
    model = _network_on_meta(splits["train"], "weak")
    views = make_views(dataset, with_targets=False).to(META)
    lifted = inference.lift_views(model, views, dataset.view_mask.to(META), coordinate_frame, batch_size=256)
    frames, joints = dataset.view_mask.shape[0], dataset.skeleton.num_joints
    assert lifted.poses.shape == (frames, joints, 3) and lifted.uncertainty.shape == (frames, joints)
    assert all(value.device == META for value in (lifted.status, lifted.views, lifted.poses, lifted.uncertainty))


SYNCING_OPS = {torch.ops.aten._local_scalar_dense.default: "item/bool/float/int", torch.ops.aten.nonzero.default:
               "nonzero", torch.ops.aten.masked_select.default: "masked_select"}  # fmt: skip


class _SyncCounter(TorchDispatchMode):
    """Counts the ATen calls that read a device tensor's value on the host (``.item()``, ``bool(t)``, ``float(t)``
    all end in ``_local_scalar_dense``) or whose output shape depends on values (``nonzero``, boolean indexing)."""

    def __init__(self, counts: Counter):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in SYNCING_OPS:
            self.counts[SYNCING_OPS[func]] += 1
        elif func in (torch.ops.aten.index.Tensor, torch.ops.aten.index_put_.default, torch.ops.aten.index_put.default):
            if any(index is not None and index.dtype == torch.bool for index in args[1]):
                self.counts["boolean index"] += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def counting_host_syncs(monkeypatch):
    """Counts host syncs inside the block: the ATen ones above, and the Python calls that copy to the host without
    an ATen call on the CPU (``.cpu()``, ``.numpy()``, ``.tolist()``)."""
    counts = Counter()
    for name in ("cpu", "numpy", "tolist"):
        method = getattr(torch.Tensor, name)

        def counted(self, *args, _method=method, _name=name, **kwargs):
            counts[_name] += 1
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    with _SyncCounter(counts):
        yield counts
    monkeypatch.undo()


def _syncs_of_a_run(splits, monkeypatch, mode: str, steps: int) -> Counter:
    config = dataclasses.replace(CONFIG, mode=mode, epochs=1, max_frames_per_epoch=steps * CONFIG.frames_per_batch)
    with counting_host_syncs(monkeypatch) as counts:
        training.train(config, splits["train"], splits["validation"])
    return counts


@pytest.mark.parametrize("mode", ["strong", "weak"])
def test_a_training_step_makes_no_host_sync(splits, monkeypatch, mode):
    """Two one-epoch runs of 2 and 6 steps differ only by 4 steps: the difference of their counts is what 4 steps
    (sampling, forward, both losses, backward, Adam) make. The epoch's own reads (its mean losses, validation,
    the trainable frames) are the same in both runs and are allowed; the step makes none."""
    short, long = (_syncs_of_a_run(splits, monkeypatch, mode, steps) for steps in (2, 6))
    assert sum(short.values()) > 0  # the counter sees the epoch's reads, so a zero below is not blindness
    per_step = {kind: (long[kind] - short[kind]) / 4 for kind in long | short}
    print(f"{mode}: host syncs outside the steps (setup, epoch end, validation) {dict(short)}, per step {per_step}")
    assert all(count == 0 for count in per_step.values()), per_step
