"""Loading a trained network: the weights that `python mnist_mlp.py` saves, or any like them."""

import pickle

import torch

from mnist_mlp import Net

HOW_TO_SAVE = "weights are saved with torch.save(model.state_dict(), PATH), as mnist_mlp.py does"


class WeightsError(Exception):
    """A weights file that cannot be used; the message says why, in one line."""


def load_network(source):
    """A trained Net in eval mode, on the CPU (a network this small reads one picture faster there
    than a GPU can be handed it). `source` is a Net, used as it is, or the path of saved weights:
    a state_dict, or a checkpoint dict that holds one under "state_dict", "model_state_dict" or
    "model". The hidden layers are as large as the weights say (any --hidden-units)."""
    if isinstance(source, torch.nn.Module):
        return source.cpu().eval()
    try:
        # weights_only=True reads tensors and plain containers only, never code: a full pickle
        # (torch.save(model), or worse) can run code as it loads, so such a file is refused.
        saved = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"there is no {source}: run `python mnist_mlp.py` first, which trains a network "
                           "in seconds and saves its weights to mnist_mlp.pt") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError):  # torch.load's, for what is not weights
        raise WeightsError(f"{source} holds no weights that load safely (it is not from torch.save, or it holds "
                           f"code that would run on loading); {HOW_TO_SAVE}") from None
    state_dict = weights_in(saved, source)
    network = Net(hidden_units=state_dict["fc1.weight"].shape[0])
    expected = network.state_dict()
    missing, unexpected = expected.keys() - state_dict.keys(), state_dict.keys() - expected.keys()
    if missing or unexpected:
        raise WeightsError(f"the weights in {source} are not a 784-N-N-10 Net's: "
                           f"{', '.join(sorted(missing)) or 'nothing'} missing, "
                           f"{', '.join(sorted(unexpected)) or 'nothing'} more")
    for name, tensor in expected.items():
        if state_dict[name].shape != tensor.shape:
            raise WeightsError(f"the weights in {source} do not fit the network: {name} is "
                               f"{'x'.join(map(str, state_dict[name].shape))} in the file, "
                               f"{'x'.join(map(str, tensor.shape))} in a 784-{len(expected['fc1.bias'])}-"
                               f"{len(expected['fc2.bias'])}-10 Net")
    network.load_state_dict(state_dict)
    return network.eval()


def weights_in(saved, source):
    """The state_dict in what a weights file holds, its names as Net's: fc1.weight, fc1.bias, ...
    The prefixes that nn.DataParallel ("module.") and torch.compile ("_orig_mod.") add are taken off."""
    if isinstance(saved, dict):
        for key in ("state_dict", "model_state_dict", "model"):  # a checkpoint: weights beside other things
            if isinstance(saved.get(key), dict):
                saved = saved[key]
                break
    if not (isinstance(saved, dict) and all(isinstance(tensor, torch.Tensor) for tensor in saved.values())):
        raise WeightsError(f"{source} holds no state_dict (a dict of tensors); {HOW_TO_SAVE}")
    state_dict = {}
    for name, tensor in saved.items():
        while name.startswith(("module.", "_orig_mod.")):
            name = name.split(".", 1)[1]
        state_dict[name] = tensor
    if "fc1.weight" not in state_dict:
        raise WeightsError(f"{source} holds no fc1.weight, so not the weights of a Net; {HOW_TO_SAVE}")
    return state_dict
