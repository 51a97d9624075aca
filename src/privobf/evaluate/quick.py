"""A fast per-epoch check during training: attribute mAP and privacy-score correlation on held-out data.

It feeds Model-Image square inputs at the training size (no multi-scale, no masks), so it costs
one forward pass per held-out image; `privobf evaluate` is the full protocol.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..attributes import Vocabulary, vispr_profiles
from ..data.batching import TrainingCollator
from .metrics import mean_average_precision, pearson, score_l1, spearman


def quick_validation(dataset, vocabulary: Vocabulary, use_priors: bool = True, batch_size: int = 8) -> Callable:
    profiles = vispr_profiles(vocabulary)

    @torch.inference_mode()
    def validate(model, epoch: int) -> dict[str, float]:
        collate = TrainingCollator(vocabulary, profiles, model.config.image_size, hflip=False, use_priors=use_priors)
        device = next(model.parameters()).device
        probabilities, labels, predicted, targets = [], [], [], []
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(start, min(len(dataset), start + batch_size))]).to(device)
            output = model.image(batch.images, batch.priors)
            probabilities.append(model.image.attribute_probabilities(output).float().cpu().numpy())
            labels.append(batch.labels.cpu().numpy())
            scores = output.privacy if output.privacy is not None else None
            if scores is None:
                scores = torch.from_numpy(profiles.scores(probabilities[-1], "max"))
            predicted.append(scores.float().cpu().numpy().mean(1))
            targets.append(batch.privacy_targets.cpu().numpy().mean(1))
        p, y = np.concatenate(probabilities), np.concatenate(labels)
        s, t = np.concatenate(predicted), np.concatenate(targets)
        _, mean_ap = mean_average_precision(p, y > 0, min_positives=1)
        return {"attribute_map": float(mean_ap), "score_pearson": float(pearson(s, t)),
                "score_spearman": float(spearman(s, t)), "score_l1": float(score_l1(s, t))}

    return validate
