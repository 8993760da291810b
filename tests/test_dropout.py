"""The CPU dropout: drops independently with probability p, keeps the mean, a gradient that is its mask, seeded."""

import pytest
import torch

from weakpose_lite.dropout import PackedDropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_packed_dropout_drops_independently_with_probability_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    features = torch.rand(1000, 1003) + 0.5  # an odd size: the last 64-bit word is only partly used
    output = PackedDropout(p).train()(features)
    dropped = output == 0
    n = dropped.numel()
    assert abs(dropped.float().mean().item() - p) < 5 * (p * (1 - p) / n) ** 0.5
    # neighbours share a 64-bit word: their drops must still be independent (P(both) = p²), in every lane position
    for lane in range(4):
        pairs = dropped.flatten()[lane : n - 1 : 4], dropped.flatten()[lane + 1 :: 4][: (n - 1 - lane + 3) // 4]
        both = (pairs[0] & pairs[1]).float().mean().item()
        assert abs(both - p * p) < 5 * (p * p * (1 - p * p) / len(pairs[0])) ** 0.5
    kept_scale = output[~dropped] / features[~dropped]
    keep = round((1 - p) * 65536) / 65536
    torch.testing.assert_close(kept_scale, torch.full_like(kept_scale, 1 / keep))
    # inverted dropout: the expectation of every unit is unchanged
    assert abs(output.mean().item() / features.mean().item() - 1) < 5 * (p / (1 - p) / n) ** 0.5


def test_packed_dropout_gradient_is_its_mask_and_evaluation_is_the_identity():
    torch.manual_seed(1)
    features = torch.randn(64, 256, requires_grad=True)
    dropout = PackedDropout(0.25).train()
    output = dropout(features)
    output.sum().backward()
    torch.testing.assert_close(features.grad * features.detach(), output.detach())
    assert torch.equal(dropout.eval()(features), features)
    assert torch.equal(PackedDropout(0.0).train()(features), features)
    assert (PackedDropout(1.0).train()(features) == 0).all()


def test_packed_dropout_is_seeded_by_torch_manual_seed():
    features = torch.ones(8, 100)
    masks = []
    for _ in range(2):
        torch.manual_seed(7)
        masks.append(PackedDropout(0.5).train()(features))
    assert torch.equal(*masks)
    assert not torch.equal(masks[0], PackedDropout(0.5).train()(features))
