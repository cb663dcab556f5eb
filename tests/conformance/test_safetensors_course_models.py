"""Every course model's weights go to PyTorch and back through .safetensors, name for name, bit for bit.

The PyTorch side is a module tree built from the names and shapes in the file, so it follows the
course models as they are; these tests prove the file speaks PyTorch's state-dict language
(key names, shapes, dtypes, strict loading both ways). That the course models compute what the
course's PyTorch code computes is the conformance suite's model tests' job.
"""

import numpy as np
import pytest

import nn
import tensor
from tinygrad_gpt.blocks import BlockVer2, BlockVer3, BlockVer4
from tinygrad_gpt.heads import MultiHeadVer1, MultiHeadVer2
from tinygrad_gpt.models import GPTVer4

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

V, T, C = 11, 8, 16
BLOCKS = {
    "BlockVer2": lambda head: BlockVer2(head, C),
    "BlockVer3": lambda head: BlockVer3(head, C),
    "BlockVer4": lambda head: BlockVer4(head, C, 0.1),
}
HEADS = {"MultiHeadVer1": lambda: MultiHeadVer1(T, C, 4), "MultiHeadVer2": lambda: MultiHeadVer2(T, C, 4)}


def course_model(block, head):
    return GPTVer4(nn.Sequential(BLOCKS[block](HEADS[head]()), BLOCKS[block](HEADS[head]())), V, T, C)


def torch_tree(state):
    """A torch.nn.Module with a parameter (float) or buffer (other dtypes) at every dotted name of `state`."""
    root = torch.nn.Module()
    for name, value in state.items():
        *path, leaf = name.split(".")
        module = root
        for part in path:
            if part not in module._modules:
                module.add_module(part, torch.nn.Module())
            module = module._modules[part]
        if value.is_floating_point():
            module.register_parameter(leaf, torch.nn.Parameter(torch.zeros_like(value)))
        else:
            module.register_buffer(leaf, torch.zeros_like(value))
    return root


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("block", BLOCKS)
def test_course_gpt_weights_go_to_pytorch_and_back(tmp_path, block, head):
    model = course_model(block, head)
    ours = model.state_dict()
    nn.save(ours, tmp_path / "course.safetensors")

    twin = torch_tree(safetensors_torch.load_file(tmp_path / "course.safetensors"))
    twin.load_state_dict(safetensors_torch.load_file(tmp_path / "course.safetensors"), strict=True)
    theirs = twin.state_dict()
    assert sorted(theirs) == sorted(ours)  # every name, nothing else
    for name, value in ours.items():
        assert theirs[name].numpy().tobytes() == value.numpy().tobytes(), name

    with torch.no_grad():  # change every weight in PyTorch, then bring them back
        for p in twin.parameters():
            p.mul_(-2.0).add_(0.5)
    safetensors_torch.save_file(twin.state_dict(), tmp_path / "back.safetensors")
    fresh = course_model(block, head)
    fresh.load_state_dict(nn.load(tmp_path / "back.safetensors"), strict=True)
    for name, value in fresh.state_dict().items():
        assert value.dtype == ours[name].dtype, name
        np.testing.assert_array_equal(value.numpy(), theirs[name].numpy(), err_msg=name)
    logits, _ = fresh(tensor.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, V)
