"""The training engine: one loop for a laptop CPU, a GPU, or torchrun DDP over several processes.

What a user gets from `privobf train`: a progress bar, one JSON line of metrics per epoch
(`metrics.jsonl`), an atomic checkpoint after every epoch with the preset and vocabulary inside,
`--resume` from the last finished epoch, and the same numbers for the same seed.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..attributes import UserProfiles, Vocabulary, vispr_profiles
from ..atomic import atomic_write
from ..checkpoint import load_checkpoint, save_checkpoint
from ..data.batching import TrainingCollator
from ..models.config import Preset
from ..models.loading import build_model
from ..models.privobfnet import PrivObfNet
from .distributed import DistributedContext, all_reduce_mean, barrier, init_distributed, shutdown
from ..wsss.objective import WsssObjective, make_superpixel_cache
from .losses import LossTerms, cam_image_loss, total_loss

LAST_CHECKPOINT = "last.safetensors"
TRAIN_STATE = "train_state.pt"
FINAL_FULL = "model.safetensors"
FINAL_IMAGE = "model-image.safetensors"
METRICS_LOG = "metrics.jsonl"


@dataclass
class TrainResult:
    out_dir: Path
    full_checkpoint: Path
    image_checkpoint: Path
    history: list[dict[str, Any]]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % (2**32)
    np.random.seed(seed)
    random.seed(seed)


def learning_rate_factor(epoch: int, decay_epochs: Sequence[int], factor: float) -> float:
    """Step decay: epochs are numbered from 1, and the rate drops when epoch `d` starts."""
    return factor ** sum(1 for d in decay_epochs if epoch >= d)


def build_optimizer(model: PrivObfNet, preset: Preset) -> torch.optim.Optimizer:
    """ImageNet-initialised backbones at the base rate, new layers at `head_lr_multiplier` times it."""
    train = preset.train
    backbone_params, head_params = [], []
    for branch in (model.image, model.cropped):
        if branch is None:
            continue
        backbone_params += [p for p in branch.backbone.parameters() if p.requires_grad]
        head_params += [p for m in branch.new_modules() for p in m.parameters() if p.requires_grad]
    groups = [
        {"params": backbone_params, "lr": train.lr, "base_lr": train.lr},
        {"params": head_params, "lr": train.lr * train.head_lr_multiplier, "base_lr": train.lr * train.head_lr_multiplier},
    ]
    if model.reconstruction is not None:
        # A deep decoder from scratch: at the base rate, not the heads' 10x (SSC trains it with its own Adam).
        groups.append({"params": list(model.reconstruction.parameters()), "lr": train.lr, "base_lr": train.lr})
    if train.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    return torch.optim.AdamW(groups, lr=train.lr, weight_decay=train.weight_decay)


def _resolve_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _autocast(device: str, amp: str):
    if amp == "off" or (amp == "auto" and not device.startswith("cuda")):
        return nullcontext()
    dtype = torch.float16 if amp == "fp16" else torch.bfloat16
    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=dtype)


def checkpoint_metadata(preset: Preset, vocabulary: Vocabulary, kind: str, epoch: int, extra: dict | None = None) -> dict:
    return {
        "kind": kind,
        "preset": preset.to_dict(),
        "attribute_ids": vocabulary.ids,
        "vocabulary_name": vocabulary.name,
        "epoch": epoch,
        "trained": extra or {},
    }


class Trainer:
    def __init__(
        self,
        preset: Preset,
        train_data: Dataset,
        vocabulary: Vocabulary,
        out_dir: str | Path,
        *,
        profiles: UserProfiles | None = None,
        validate: Callable[[nn.Module, int], dict[str, float]] | None = None,
        device: str | None = None,
        progress: bool | None = None,
        use_priors: bool = True,
        description: dict[str, Any] | None = None,
        cache_dir: str | Path | None = None,
    ):
        """cache_dir: where superpixels are cached (activation self-modulation); default ~/.cache/privobf."""
        self.preset = preset
        self.train_data = train_data
        self.vocabulary = vocabulary
        self.out_dir = Path(out_dir)
        self.profiles = profiles or vispr_profiles(vocabulary)
        self.validate = validate
        self.device = _resolve_device(device)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.use_priors = use_priors
        self.description = description or {}
        wsss = preset.model.wsss
        self.superpixel_cache = make_superpixel_cache(cache_dir) if wsss.asm else None
        self.objective = WsssObjective(wsss) if wsss.enabled() else None

    def _loader(self, context: DistributedContext) -> tuple[DataLoader, DistributedSampler | None, torch.Generator]:
        train = self.preset.train
        collate = TrainingCollator(
            self.vocabulary,
            self.profiles,
            self.preset.model.image_size,
            hflip=train.hflip,
            prior_dropout=self.preset.model.prior_dropout,
            use_priors=self.use_priors,
            superpixels=self.superpixel_cache,
        )
        generator = torch.Generator().manual_seed(train.seed)
        sampler = (
            DistributedSampler(self.train_data, context.world_size, context.rank, shuffle=True, seed=train.seed, drop_last=True)
            if context.enabled
            else None
        )
        loader = DataLoader(
            self.train_data,
            batch_size=train.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            num_workers=train.num_workers,
            collate_fn=collate,
            generator=generator,
            worker_init_fn=_seed_worker,
            drop_last=len(self.train_data) >= train.batch_size * max(1, context.world_size),
            persistent_workers=False,  # workers re-seed every epoch, so a resumed run repeats the same epochs
        )
        return loader, sampler, generator

    def run(self, resume: bool = False) -> TrainResult:
        context = init_distributed(self.device)
        try:
            return self._run(context, resume)
        finally:
            shutdown(context)

    def _run(self, context: DistributedContext, resume: bool) -> TrainResult:
        train = self.preset.train
        seed_everything(train.seed + context.rank)
        device = f"cuda:{context.local_rank}" if self.device.startswith("cuda") and context.enabled else self.device
        channels_last = train.channels_last == "on" or (train.channels_last == "auto" and device.startswith("cuda"))

        model = build_model(self.preset, self.vocabulary).to(device)
        if self.objective is not None:
            self.objective.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(model, self.preset)
        start_epoch, history = 1, []
        if resume:
            start_epoch, history = self._restore(model, optimizer)
        wrapped: nn.Module = (
            nn.parallel.DistributedDataParallel(model, device_ids=[context.local_rank] if device.startswith("cuda") else None)
            if context.enabled
            else model
        )
        loader, sampler, shuffle_generator = self._loader(context)
        crop_generator = torch.Generator()
        if context.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        for epoch in range(start_epoch, train.epochs + 1):
            # Every source of randomness restarts from (seed, epoch, rank): epoch k of a resumed run is
            # the same as epoch k of an uninterrupted one.
            epoch_seed = train.seed * 100_003 + epoch * 1_009 + context.rank
            torch.manual_seed(epoch_seed)
            shuffle_generator.manual_seed(train.seed * 100_003 + epoch)
            crop_generator.manual_seed(epoch_seed + 7)
            if sampler is not None:
                sampler.set_epoch(epoch)
            factor = learning_rate_factor(epoch, train.lr_decay_epochs, train.lr_decay_factor)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            record = self._epoch(wrapped, model, optimizer, loader, epoch, device, channels_last, crop_generator, context)
            record["lr"] = train.lr * factor
            if self.validate is not None and context.is_main:
                model.eval()
                record.update({f"val_{k}": v for k, v in self.validate(model, epoch).items()})
                model.train()
            history.append(record)
            if context.is_main:
                self._save(model, optimizer, epoch, history)
            barrier(context)
        result_paths = self._finish(model, history) if context.is_main else (None, None)
        barrier(context)
        return TrainResult(self.out_dir, result_paths[0], result_paths[1], history)

    def _epoch(self, wrapped, model, optimizer, loader, epoch, device, channels_last, crop_generator, context) -> dict:
        from tqdm import tqdm

        train = self.preset.train
        model.train()
        totals: dict[str, float] = {}
        steps, images_seen, started = 0, 0, time.perf_counter()
        limit = train.max_steps_per_epoch or math.inf
        bar = tqdm(
            loader,
            total=min(len(loader), limit) if limit != math.inf else len(loader),
            desc=f"epoch {epoch}/{train.epochs}",
            disable=not (self.progress and context.is_main),
            leave=False,
        )
        for batch in bar:
            if steps >= limit:
                break
            batch = batch.to(device, channels_last)
            with _autocast(device, train.amp):
                views = self.objective.views(batch.images) if self.objective is not None else []
                output = wrapped(batch.images, batch.priors, crop_generator, views)
                terms = total_loss(
                    output, batch.labels, batch.privacy_targets, train.loss_weights, self.preset.model,
                    batch.label_known, batch.privacy_upper,
                )
                if self.objective is not None:
                    extra = self.objective.terms(output, batch.images, batch.labels, batch.label_known,
                                                 batch.superpixels, cam_image_loss)
                    terms = LossTerms(terms.total + sum(extra.values()), {**terms.parts, **extra})
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            if train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
            optimizer.step()
            if not torch.isfinite(terms.total):
                raise FloatingPointError(f"epoch {epoch} step {steps}: loss is {terms.total.item()}; lower the learning rate")
            for name, value in {"loss": terms.total, **{f"loss_{k}": v for k, v in terms.parts.items()}}.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach())
            steps += 1
            images_seen += batch.images.shape[0]
            bar.set_postfix(loss=f"{totals['loss'] / steps:.4f}")
        bar.close()
        seconds = time.perf_counter() - started
        record = {name: value / max(1, steps) for name, value in totals.items()}
        record = all_reduce_mean(record, context)
        record.update(
            epoch=epoch,
            steps=steps,
            seconds=round(seconds, 2),
            images_per_second=round(images_seen * context.world_size / max(seconds, 1e-9), 3),
        )
        return record

    def _save(self, model: PrivObfNet, optimizer: torch.optim.Optimizer, epoch: int, history: list[dict]) -> None:
        save_checkpoint(
            self.out_dir / LAST_CHECKPOINT,
            model.state_dict(),
            checkpoint_metadata(self.preset, self.vocabulary, "full", epoch, self.description),
        )
        state = {"epoch": epoch, "optimizer": optimizer.state_dict()}
        atomic_write(self.out_dir / TRAIN_STATE, lambda temp: torch.save(state, temp))
        lines = "".join(json.dumps(record, sort_keys=True) + "\n" for record in history)
        atomic_write(self.out_dir / METRICS_LOG, lambda temp: Path(temp).write_text(lines))

    def _restore(self, model: PrivObfNet, optimizer: torch.optim.Optimizer) -> tuple[int, list[dict]]:
        last = self.out_dir / LAST_CHECKPOINT
        if not last.is_file():
            raise FileNotFoundError(f"{self.out_dir}: nothing to resume (no {LAST_CHECKPOINT})")
        checkpoint = load_checkpoint(last, expected_attribute_ids=self.vocabulary.ids)
        model.load_state_dict(checkpoint.state)
        state = torch.load(self.out_dir / TRAIN_STATE, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        history = [json.loads(line) for line in (self.out_dir / METRICS_LOG).read_text().splitlines() if line.strip()]
        return int(state["epoch"]) + 1, history[: int(state["epoch"])]

    def _finish(self, model: PrivObfNet, history: list[dict]) -> tuple[Path, Path]:
        epoch = history[-1]["epoch"] if history else 0
        full = save_checkpoint(
            self.out_dir / FINAL_FULL,
            model.state_dict(),
            checkpoint_metadata(self.preset, self.vocabulary, "full", epoch, self.description),
        )
        image = save_checkpoint(
            self.out_dir / FINAL_IMAGE,
            model.image.state_dict(),
            checkpoint_metadata(self.preset, self.vocabulary, "image", epoch, self.description),
        )
        return full, image


def train(preset: Preset, train_data: Dataset, vocabulary: Vocabulary, out_dir: str | Path, *, resume: bool = False, **kwargs) -> TrainResult:
    """Train PrivObfNet with `preset` on `train_data` (samples with image + labels [+ priors])."""
    return Trainer(preset, train_data, vocabulary, out_dir, **kwargs).run(resume=resume)
