"""Type stubs for twolayer's C++ extension. Use twolayer.TwoLayerNet rather than these classes."""

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

ACTIVATIONS: tuple[str, ...]
OPTIMIZERS: tuple[str, ...]
PARAM_NAMES: tuple[str, ...]
STATE_BUFFERS: dict[str, int]

# Net64 and Net32 are two separate classes in the extension (one C++ template, bound twice), so
# each is written out here: a shared base class would describe something the module does not have.
class Net64:
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        activation: str = "sigmoid",
        weight_decay_lambda: float = 0.0,
    ) -> None: ...
    @property
    def sizes(self) -> tuple[int, int, int]: ...
    @property
    def activation(self) -> str: ...
    @property
    def weight_decay_lambda(self) -> float: ...
    @property
    def params(self) -> tuple[NDArray[np.float64], ...]: ...
    def params_copy(self) -> tuple[NDArray[np.float64], ...]: ...
    def predict(self, x: ArrayLike) -> NDArray[np.float64]: ...
    def loss(self, x: ArrayLike, t: ArrayLike) -> float: ...
    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float: ...
    def gradient(self, x: ArrayLike, t: ArrayLike) -> tuple[NDArray[np.float64], ...]: ...
    def train_step(
        self,
        x: ArrayLike,
        t: ArrayLike,
        learning_rate: float,
        *,
        optimizer: str = "sgd",
        state: NDArray[Any] | None = None,
        settings: dict[str, Any] = {},
        indices: ArrayLike | None = None,
        return_loss: bool = True,
    ) -> float | None: ...
    def numerical_gradient(
        self, x: ArrayLike, t: ArrayLike, method: str = "incremental", h: float = 1e-4
    ) -> tuple[NDArray[np.float64], ...]: ...

class Net32:
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        activation: str = "sigmoid",
        weight_decay_lambda: float = 0.0,
    ) -> None: ...
    @property
    def sizes(self) -> tuple[int, int, int]: ...
    @property
    def activation(self) -> str: ...
    @property
    def weight_decay_lambda(self) -> float: ...
    @property
    def params(self) -> tuple[NDArray[np.float32], ...]: ...
    def params_copy(self) -> tuple[NDArray[np.float32], ...]: ...
    def predict(self, x: ArrayLike) -> NDArray[np.float32]: ...
    def loss(self, x: ArrayLike, t: ArrayLike) -> float: ...
    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float: ...
    def gradient(self, x: ArrayLike, t: ArrayLike) -> tuple[NDArray[np.float32], ...]: ...
    def train_step(
        self,
        x: ArrayLike,
        t: ArrayLike,
        learning_rate: float,
        *,
        optimizer: str = "sgd",
        state: NDArray[Any] | None = None,
        settings: dict[str, Any] = {},
        indices: ArrayLike | None = None,
        return_loss: bool = True,
    ) -> float | None: ...
    def numerical_gradient(
        self, x: ArrayLike, t: ArrayLike, method: str = "incremental", h: float = 1e-4
    ) -> tuple[NDArray[np.float32], ...]: ...

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def build_info() -> dict[str, Any]: ...
